"""gwtool's own verdicts through the proxy: ``check gateway`` through it judges the gateway as it
judges it directly, and the proxy reports no violation of a gateway that passes."""

from __future__ import annotations

from gwtool.check.cases import Report, run_suite, select
from gwtool.check.gateway_suite import GatewayContext, gateway_cases, prepare
from gwtool.gateway import MockGateway
from gwtool.protocol.definition import load_protocol
from gwtool.proxy import Proxy

PROTO = load_protocol(use_env=False)
INTERVAL = 400  # ms: short, so that heartbeat.timeout runs without --slow


async def check(url: str) -> Report:
    context = GatewayContext(PROTO, url, token="s3cret")
    await prepare(context)
    return await run_suite("gateway", url, select(gateway_cases(PROTO), None, None), context)


def verdicts(report: Report) -> dict[str, str]:
    return {r.id: r.status for r in report.results}


async def test_check_gateway_through_the_proxy_gives_the_same_verdict_as_directly():
    settings = dict(heartbeat_interval=INTERVAL, token="s3cret", rate_limit=(200, 60.0))
    async with MockGateway(PROTO, **settings) as gw:
        direct = await check(gw.url)
    async with MockGateway(PROTO, **settings) as gw, Proxy(PROTO, upstream=gw.url) as proxy:
        proxied = await check(proxy.url)
        gateway_violations = proxy.counts.violations["gateway"]
    assert verdicts(proxied) == verdicts(direct), [
        (r.id, r.status, r.got) for r in proxied.results if verdicts(direct)[r.id] != r.status
    ]
    assert direct.count("fail") == 0 and len(direct.results) >= 30
    assert gateway_violations == 0  # the suite's own misbehaviour is the service side's, not the gateway's


async def test_check_service_through_a_proxy_dropping_acks_shows_the_service_closing_as_a_zombie():
    """The service under check talks to the check's gateway through a proxy that drops every ACK:
    its steady run is cut short by its own zombie closes (1 heartbeat a connection), which the
    check reports, and its zombie case still passes (it closes with 4000 and reconnects)."""
    import sys
    from pathlib import Path

    from gwtool.check.service_suite import ServiceContext, service_cases

    wrapper = str(Path(__file__).with_name("proxied_service.py"))
    command = [sys.executable, wrapper, "--fault", "drop op:HEARTBEAT_ACK", "--", "--as", "commands"]
    ctx = ServiceContext(PROTO, "commands", command, interval_ms=300)
    only = ["heartbeat.interval", "heartbeat.zombie"]
    report = await run_suite("service", " ".join(command), select(service_cases(PROTO), only, None), ctx)
    results = {r.id: r for r in report.results}
    assert results["heartbeat.interval"].status == "fail" and "1 heartbeat in" in results["heartbeat.interval"].got
    assert results["heartbeat.zombie"].status == "pass"
    assert "closed 4000 UNKNOWN_ERROR: no ACK for the last heartbeat (by the service)" in results["heartbeat.zombie"].got
