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
