"""The cache by type → entities; selecting an entity shows its JSON in the Detail pane."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from gwtool.text import printable

if TYPE_CHECKING:
    from gwtool.protocol.definition import Definition, Structure

NAME_FIELDS = ("name", "username", "nickname", "command")  # a readable hint beside the key, when present
EntityNode = tuple[str, tuple[str, ...], dict[str, Any]]  # an entity's node data: (type, key, entity)


def entity_label(structure: Structure, entity: dict[str, Any]) -> Text:
    key = "/".join(str(entity.get(k)) for k in structure.key)
    text = Text(printable(key))
    hint = next((entity[f] for f in NAME_FIELDS if isinstance(entity.get(f), str)), None)
    if hint:
        text.append("  " + printable(hint), "dim")
    return text


def count_text(shown: int, at_gateway: int | None, listed: bool) -> str:
    """The count beside a type: ``(3)`` on the embedded gateway; on a remote one, what it holds too."""
    if at_gateway is None:
        return f" ({shown:,})"
    if listed:
        return f" ({shown:,} at the gateway)" if shown >= at_gateway else f" ({shown:,} of {at_gateway:,} at the gateway)"
    return f" ({shown:,} seen) · {at_gateway:,} at the gateway"


class CacheTree(Tree[EntityNode]):
    """Node data: ``(type, key tuple, entity)`` for entities, None for type nodes."""

    def __init__(self, proto: Definition, *, id: str | None = None):
        super().__init__(Text("cache"), id=id)
        self.proto = proto
        self.show_root = False
        self.source = ""
        self.signature: tuple[object, ...] = ()
        self.type_nodes: dict[str, TreeNode[EntityNode]] = {}  # the type nodes, by type

    def show(
        self,
        source: str,
        index: dict[str, list[dict[str, Any]]],
        counts: dict[str, int] | None = None,
        listed: frozenset[str] | None = None,
    ) -> None:
        """Rebuild when the content changed, keeping which types are expanded.

        ``counts``: how many entities of each type a remote gateway holds (its GET /cache/).
        ``listed``: the types whose entities are the gateway's own (GET /cache/{type}/), not the
        cache payloads seen this session.
        """
        listed = frozenset() if listed is None else listed
        signature = (
            source,
            tuple((k, len(v), tuple(map(id, v))) for k, v in index.items()),
            tuple((counts or {}).items()),
            listed,
        )
        if signature == self.signature:
            return
        self.signature = signature
        self.source = source
        if self.type_nodes:
            expanded = {kind for kind, node in self.type_nodes.items() if node.is_expanded}
        else:  # first fill: open the types that are small enough to read at a glance
            expanded = {kind for kind, entities in index.items() if 0 < len(entities) <= 5}
        self.clear()
        self.type_nodes = {}
        for kind, entities in index.items():
            structure = self.proto.cache_types[kind]
            label = Text(kind, "bold")
            label.append(count_text(len(entities), counts.get(kind) if counts else None, kind in listed), "dim")
            node = self.type_nodes[kind] = self.root.add(label, expand=kind in expanded)
            for entity in entities:
                key = tuple(str(entity.get(k)) for k in structure.key)
                node.add_leaf(entity_label(structure, entity), data=(kind, key, entity))
        self.border_subtitle = source
