"""``gwtool locustfile``: a commented starter locustfile that ``locust -f`` runs as it is."""

from __future__ import annotations

from typing import Annotated

import typer

from gwtool.cli.app import app
from gwtool.cli.help import GwtoolCommand
from gwtool.cli.options import DataOption, ProtocolOption, SetOption, TokenOption, load
from gwtool.errors import GwtoolError

TEMPLATE = '''\
"""Load a gateway with Locust: {sender} users send {event}, {receiver} users receive it.

Made by `gwtool locustfile`; needs `pip install 'gwtool[locust]'`. Run it with:

    locust -f {name} --host ws://127.0.0.1:8765                 # the web UI on http://127.0.0.1:8089
    locust -f {name} --host ws://127.0.0.1:8765 --headless -u 100 -r 10 -t 60s --csv load

Distributed (docs/load.md): `--master --expect-workers N` here, `--worker --master-host HOST` elsewhere.
In Locust's stats each delivered {event} is a request (its latency end to end: the send time
travels in the event), each HEARTBEAT its ACK's round trip, a close by the gateway a failure.
"""

from gwtool.locust import {receiver_class}, {sender_class}

TOKEN = {token!r}  # the gateway's token (IDENTIFY's {token_field})


class {sender_title}({sender_class}):
    weight = {sender_weight}  # {sender} users : {receiver} users = {sender_weight} : {receiver_weight}, among the -u users Locust starts
    events_per_second = {rate:g}  # per {sender} user: -u 100 makes {share:g} of them {sender} users, {total:g} events/s in all
    token = TOKEN
    # the event's data: the definition's example{overridden}
    event_data = {data}


class {receiver_title}({receiver_class}):
    weight = {receiver_weight}
    token = TOKEN
'''


@app.command("locustfile", cls=GwtoolCommand)
def locustfile(
    data: DataOption = None,
    set_: SetOption = None,
    rate: Annotated[
        float, typer.Option("--rate", min=0, metavar="PER_SECOND", help="Events per second per sending user.")
    ] = 10.0,
    senders: Annotated[
        int, typer.Option("--sharders", "--senders", min=0, metavar="WEIGHT", help="Weight of the sending users.")
    ] = 1,
    receivers: Annotated[
        int, typer.Option("--commands", "--receivers", min=0, metavar="WEIGHT", help="Weight of the receiving users.")
    ] = 1,
    token: TokenOption = "",
    name: Annotated[str, typer.Option("--name", metavar="FILE", help="The file name the usage lines mention.")] = "locustfile.py",
    protocol: ProtocolOption = None,
) -> None:
    """Print a starter locustfile: the sharder/commands mix, events per second per user, the event data and the token.

    Save it and run it: gwtool locustfile > locustfile.py && locust -f locustfile.py --host ws://127.0.0.1:8765. The event is the definition's round-robin one (EXECUTE_COMMAND), its data the definition's example with --data / --set applied (as in gwtool send).
    """  # noqa: E501
    from gwtool.cli.data import build_data, invalid_data, one_data
    from gwtool.protocol.examples import event_data
    from gwtool.protocol.validate import validate_payload

    proto = load(protocol)
    event = next((e for e in proto.events.values() if e.routing == "round_robin" and proto.first_sender(e.t)), None)
    if event is None:
        raise GwtoolError("the protocol definition has no round-robin event that a service sends: nothing to load with")
    sender = proto.first_sender(event.t) or ""
    receiver = next((s for s in proto.services if event.is_received_by(s)), proto.first_receiver())
    d = build_data(one_data(data), set_ or [], event_data(proto, event.t), event.fields, proto)
    if not isinstance(d, dict):
        raise GwtoolError(f"--data: {event.t}'s data must be an object (a field carries each event's send time)")
    if errors := validate_payload(proto, {"op": proto.op("EVENT"), "t": event.t, "d": d}, sender="service", service=sender):
        raise invalid_data(event.t, errors, f"the gateway would close every {sender} user with the first one it sent")
    overridden = " with --data / --set applied" if data or set_ else " (edit it, or use --set)"
    typer.echo(TEMPLATE.format(
        sender=sender, receiver=receiver, event=event.t, name=name, token=token, token_field=proto.roles.identify_token,
        sender_class="SharderUser", receiver_class="CommandsUser", sender_title=_title(sender), receiver_title=_title(receiver),
        sender_weight=senders, receiver_weight=receivers, rate=rate, share=100 * senders / max(1, senders + receivers), total=100 * rate * senders / max(1, senders + receivers), overridden=overridden,
        data=python_literal(d, "    "),
    ), nl=False)  # fmt: skip


def python_literal(value: object, indent: str) -> str:
    """JSON data as a Python literal, an entry a line (True, False and None where JSON has them)."""
    inner = indent + "    "
    if isinstance(value, dict) and value:
        items = ",\n".join(f"{inner}{k!r}: {python_literal(v, inner)}" for k, v in value.items())
        return "{\n" + items + ",\n" + indent + "}"
    if isinstance(value, list) and value:
        return "[\n" + ",\n".join(inner + python_literal(v, inner) for v in value) + ",\n" + indent + "]"
    return repr(value)


def _title(service: str) -> str:
    return "".join(part.capitalize() for part in service.replace("-", "_").split("_")) or "Service"
