"""The field names the code relies on come from the definition's [roles]: rename a field and its
role, and everything follows; rename a field alone, and loading says which role broke."""

from __future__ import annotations

import pytest

from gwtool.client import GatewayClient
from gwtool.errors import ProtocolDefinitionError
from gwtool.gateway import MockGateway
from gwtool.protocol.definition import load_protocol


def write(tmp_path, text: str):
    path = tmp_path / "renamed.toml"
    path.write_text(text)
    return path


def edited_definition():
    """default.toml as a fork would edit it: IDENTIFY's fields renamed, and their roles with them.
    (A --protocol file is merged over the default, so it can add fields but not rename them.)"""
    from gwtool.protocol.definition import _Builder, _read_default

    data = _read_default()
    data["identify"]["fields"] = {
        "kind": {"type": "service", "doc": "the service type"},
        "secret": {"type": "string", "doc": "the shared secret"},
        "zlib?": {"type": "boolean", "doc": "compress"},
    }
    data["roles"].update(identify_service="identify.kind", identify_token="identify.secret", identify_compress="identify.zlib")
    return _Builder(data, {}).build(("edited",))


async def test_renamed_identify_fields_work_end_to_end():
    proto = edited_definition()
    assert proto.roles.identify_token == "secret"
    async with MockGateway(proto, token="hunter2") as gw:
        async with GatewayClient(gw.url, service="sharder", token="hunter2", compress=True, proto=proto) as client:
            identified = await client.wait_identified(timeout=5)
            assert identified["shards"] == [0, 1, 2]
            assert [c.compress for c in gw.connections] == [True]


def test_a_role_naming_a_missing_field_is_refused_at_load_naming_file_and_key(tmp_path):
    path = write(tmp_path, '[roles]\nidentify_token = "identify.secret"\n')
    with pytest.raises(ProtocolDefinitionError) as refused:
        load_protocol(path, use_env=False)
    assert str(refused.value).startswith(f"{path}: roles.identify_token: identify has no field 'secret'")


def test_a_role_must_name_a_field_of_its_own_table(tmp_path):
    path = write(tmp_path, '[roles]\nhello_interval = "identify.token"\n')
    with pytest.raises(ProtocolDefinitionError, match=r"roles.hello_interval: expected hello.FIELD"):
        load_protocol(path, use_env=False)
