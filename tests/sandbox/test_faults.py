"""The fault plan (parsing, seeded reproducibility, limits) and the API faults of the middleware:
5xx without processing, timeout after processing, slow before processing."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest

from paydesk.protocol.v2.codec import parse_v2_fields
from paydesk.sandbox import Sandbox
from paydesk.sandbox.faults import FaultPlan, parse_rule
from tests.sandbox.signing import native_prepay

# -- the plan ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "melt"}, "kind must be one of"),
        ({}, "kind must be one of"),
        ({"kind": "drop", "color": "red"}, "unknown fault fields: color"),
        ({"kind": "drop", "probability": 1.5}, "probability must be a number from 0 to 1"),
        ({"kind": "drop", "probability": True}, "probability must be a number"),
        ({"kind": "drop", "seed": 1.5}, "seed must be a whole number"),
        ({"kind": "5xx", "status": 404}, "status must be a whole number from 500 to 599"),
        ({"kind": "slow", "seconds": -1}, "seconds must be a number from 0"),
        ({"kind": "drop", "times": -1}, "times must be a whole number"),
        ({"kind": "drop", "path": ""}, "path must be a non-empty string"),
        ({"kind": "drop", "path": 7}, "path must be a non-empty string"),
        ({"kind": "drop", "path_regex": "("}, "path_regex does not compile"),
    ],
)
def test_bad_rules_say_what_is_wrong(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_rule(data, 1)


def test_defaults_and_view() -> None:
    rule = parse_rule({"kind": "timeout"}, 3)
    assert (rule.probability, rule.seed, rule.wait_seconds, rule.times) == (1.0, 0, 30.0, None)
    assert rule.view() == {
        "id": 3,
        "kind": "timeout",
        "probability": 1.0,
        "seed": 0,
        "path": None,
        "path_regex": None,
        "seconds": 30.0,
        "status": None,
        "times": None,
        "seen": 0,
        "fired": 0,
    }
    assert parse_rule({"kind": "5xx"}, 1).view()["status"] == 500
    assert parse_rule({"kind": "drop"}, 1).view()["seconds"] is None
    assert parse_rule({"kind": "slow"}, 1).wait_seconds == 3.0
    assert parse_rule({"kind": "delay"}, 1).wait_seconds == 60.0
    assert parse_rule({"kind": "reorder"}, 1).wait_seconds == 10.0
    assert parse_rule({"kind": "duplicate"}, 1).wait_seconds == 0.0


def _fires(plan: FaultPlan, rounds: int) -> list[bool]:
    return [plan.http_fault("/v3/x") is not None for _ in range(rounds)]


def test_the_same_seed_gives_the_same_run_and_another_seed_another() -> None:
    runs = []
    for seed in (42, 42, 43):
        plan = FaultPlan()
        plan.add({"kind": "5xx", "probability": 0.5, "seed": seed})
        runs.append(_fires(plan, 64))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    assert 10 < sum(runs[0]) < 54  # about half


def test_probability_zero_never_fires_and_times_caps_the_firings() -> None:
    plan = FaultPlan()
    never = plan.add({"kind": "5xx", "probability": 0})
    assert _fires(plan, 20) == [False] * 20
    assert (never.seen, never.fired) == (20, 0)
    plan.clear()
    twice = plan.add({"kind": "5xx", "times": 2})
    assert _fires(plan, 4) == [True, True, False, False]
    assert twice.fired == 2


def test_paths_prefixes_and_regexes() -> None:
    plan = FaultPlan()
    plan.add({"kind": "slow", "path": "/v3/refund/"})
    plan.add({"kind": "timeout", "path_regex": r"/close$"})
    assert plan.http_fault("/v3/pay/transactions/native") is None
    slow = plan.http_fault("/v3/refund/domestic/refunds")
    late = plan.http_fault("/v3/pay/transactions/out-trade-no/T1/close")
    assert slow is not None
    assert late is not None
    assert (slow.kind, late.kind) == ("slow", "timeout")
    plan.add({"kind": "5xx"})
    assert plan.http_fault("/_sandbox/faults") is None  # the control API is never faulted


def test_notification_faults_match_the_notify_url_path() -> None:
    plan = FaultPlan()
    plan.add({"kind": "drop", "path": "/notify"})
    assert plan.notify_fault("drop", "https://m.test/notify/v3") is not None
    assert plan.notify_fault("drop", "https://m.test/other") is None
    assert plan.notify_fault("duplicate", "https://m.test/notify") is None
    assert plan.http_fault("/notify") is None  # a drop rule is not an API fault


def test_add_all_is_all_or_nothing_and_remove_by_id() -> None:
    plan = FaultPlan()
    with pytest.raises(ValueError, match="rule 2: kind must be"):
        plan.add_all([{"kind": "drop"}, {"kind": "nope"}])
    assert plan.rules == ()
    first, second = plan.add_all([{"kind": "drop"}, {"kind": "5xx"}])
    assert (first.id, second.id) == (1, 2)
    assert plan.remove(1) is True
    assert plan.remove(1) is False
    assert [r.id for r in plan.rules] == [2]


# -- the control API -----------------------------------------------------------------------------


async def test_the_faults_control_api(sandbox_client: httpx.AsyncClient) -> None:
    one = await sandbox_client.post("/_sandbox/faults", json={"kind": "drop", "seed": 7})
    many = await sandbox_client.post(
        "/_sandbox/faults", json={"rules": [{"kind": "5xx", "path": "/pay/"}, {"kind": "slow"}]}
    )
    assert one.json()["added"][0]["id"] == 1
    assert [r["kind"] for r in many.json()["rules"]] == ["drop", "5xx", "slow"]
    listed = await sandbox_client.get("/_sandbox/faults")
    assert len(listed.json()["rules"]) == 3
    assert (await sandbox_client.delete("/_sandbox/faults?id=2")).json()["rules"][1][
        "kind"
    ] == "slow"
    assert (await sandbox_client.delete("/_sandbox/faults?id=9")).status_code == 404
    assert (await sandbox_client.delete("/_sandbox/faults?id=x")).status_code == 404
    assert (await sandbox_client.delete("/_sandbox/faults")).json() == {"rules": []}


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b"",
        json.dumps({"rules": "x"}).encode(),
        json.dumps({"rules": [1]}).encode(),
        json.dumps({"kind": "boom"}).encode(),
    ],
)
async def test_the_faults_control_api_refuses_bad_rules(
    sandbox_client: httpx.AsyncClient, body: bytes
) -> None:
    response = await sandbox_client.post("/_sandbox/faults", content=body)
    assert response.status_code == 400
    assert response.json()["code"] == "PARAM_ERROR"


async def test_reset_clears_the_faults(sandbox: Sandbox, sandbox_client: httpx.AsyncClient) -> None:
    await sandbox_client.post("/_sandbox/faults", json={"kind": "drop"})
    await sandbox_client.post("/_sandbox/reset")
    assert sandbox.pay.faults.rules == ()


# -- API faults through the middleware -------------------------------------------------------------


def _native(sandbox: Sandbox, number: str) -> tuple[str, bytes, dict[str, str]]:
    return native_prepay(sandbox.credentials.merchants[0], number)


async def test_5xx_answers_system_error_without_acting(
    sandbox: Sandbox, sandbox_client: httpx.AsyncClient
) -> None:
    sandbox.pay.faults.add({"kind": "5xx", "path": "/v3/pay/", "times": 1, "status": 503})
    url, body, headers = _native(sandbox, "T_FLT00001")
    failed = await sandbox_client.post(url, content=body, headers=headers)
    assert failed.status_code == 503
    assert failed.json() == {"code": "SYSTEM_ERROR", "message": "系统异常，请稍后重试"}
    assert sandbox.pay.book.orders() == []
    again = await sandbox_client.post(url, content=body, headers=headers)
    assert again.status_code == 200


async def test_5xx_on_v2_and_other_paths(
    sandbox: Sandbox, sandbox_client: httpx.AsyncClient
) -> None:
    sandbox.pay.faults.add({"kind": "5xx"})
    v2 = await sandbox_client.post("/pay/unifiedorder", content=b"<xml/>")
    other = await sandbox_client.get("/sns/jscode2session")
    assert v2.status_code == other.status_code == 500
    assert parse_v2_fields(v2.content)["err_code"] == "SYSTEMERROR"
    assert other.json() == {"errcode": -1, "errmsg": "system error"}


async def test_timeout_acts_then_holds_the_answer(
    sandbox: Sandbox, sandbox_client: httpx.AsyncClient
) -> None:
    sandbox.pay.faults.add({"kind": "timeout", "seconds": 30, "times": 1})
    url, body, headers = _native(sandbox, "T_FLT00002")
    request = asyncio.create_task(sandbox_client.post(url, content=body, headers=headers))
    async with asyncio.timeout(10):
        while not sandbox.pay.book.orders():  # noqa: ASYNC110 - polls another task's effect
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)
    assert not request.done()  # acted on, but no answer: query, never create twice
    request.cancel()
    with pytest.raises(asyncio.CancelledError):
        await request
    [order] = sandbox.pay.book.orders()
    assert order.draft.out_trade_no == "T_FLT00002"


async def test_a_short_timeout_still_delivers_the_answer(
    sandbox: Sandbox, sandbox_client: httpx.AsyncClient
) -> None:
    sandbox.pay.faults.add({"kind": "timeout", "seconds": 0.05})
    url, body, headers = _native(sandbox, "T_FLT00003")
    started = time.monotonic()
    response = await sandbox_client.post(url, content=body, headers=headers)
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.05


async def test_slow_waits_then_acts(sandbox: Sandbox, sandbox_client: httpx.AsyncClient) -> None:
    sandbox.pay.faults.add({"kind": "slow", "seconds": 1.5, "times": 1})
    url, body, headers = _native(sandbox, "T_FLT00004")
    task = asyncio.create_task(sandbox_client.post(url, content=body, headers=headers))
    await asyncio.sleep(0.1)
    assert sandbox.pay.book.orders() == []  # not acted on yet
    response = await task
    assert response.status_code == 200
    assert len(sandbox.pay.book.orders()) == 1


def test_timeout_over_real_http_leaves_the_client_without_an_answer(
    sandbox_server: Any,
) -> None:
    box, server = sandbox_server
    box.pay.faults.add({"kind": "timeout", "seconds": 3, "times": 1})
    url, body, headers = _native(box, "T_FLT00005")
    with httpx.Client(base_url=server.base_url, timeout=1) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.post(url, content=body, headers=headers)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            query = {"out_trade_no": "T_FLT00005"}
            orders = client.get("/_sandbox/orders", params=query).json()["orders"]
            if orders:
                break
            time.sleep(0.02)
    assert orders[0]["state"] == "NOTPAY"  # the create took effect although no answer came


async def test_the_middleware_passes_other_scopes_through(sandbox: Sandbox) -> None:
    from paydesk.sandbox.faults import FaultMiddleware

    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    sandbox.pay.faults.add({"kind": "5xx"})

    async def nothing() -> Any:
        return {}

    async def ignore(message: Any) -> None:
        return None

    await FaultMiddleware(app, sandbox.pay.faults)({"type": "lifespan"}, nothing, ignore)
    assert seen == ["lifespan"]


async def test_a_timeout_answer_to_a_client_that_left_is_dropped_quietly(sandbox: Sandbox) -> None:
    from paydesk.sandbox.faults import FaultMiddleware

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})

    async def gone(message: Any) -> None:
        raise OSError("connection reset by peer")

    async def nothing() -> Any:
        return {"type": "http.request", "body": b""}

    sandbox.pay.faults.add({"kind": "timeout", "seconds": 0})
    scope = {"type": "http", "path": "/v3/x", "root_path": ""}
    await FaultMiddleware(app, sandbox.pay.faults)(scope, nothing, gone)
    assert sandbox.pay.faults.rules[0].fired == 1
