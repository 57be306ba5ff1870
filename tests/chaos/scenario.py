"""The chaos run: many orders through paydesk and the sandbox while the network misbehaves and
workers die — then time passes, and everything must add up to the fen.

Shared by ``tests/chaos/test_chaos.py`` (a small N, in CI) and ``bench/chaos.py`` (500)::

    report = await run_chaos(ChaosPlan(orders=60), database_url=url, workdir=tmp, credentials=c)
    report.summary()   # {"orders", "faults_injected", "mismatched_orders", "fen_difference",
                       #  "undelivered_events"}

**Phase 1, real time, the storm.** Worker processes (``python -m paydesk worker``: webhooks and
sweeps) run against the database, calling the sandbox over HTTP. Mini program users log in and
pay orders the merchant backend creates, through paydesk's API; most pay (checking the
``paySign`` as WeChat does), some cancel, some never pay; some ask ``?sync=true``. The sandbox
drops, duplicates, delays and reorders notifications and answers 5xx to queries, closes,
refunds and prepays; paydesk's notify URL is "down" for a share of notifications; the merchant's
webhook receiver answers 503 now and then. Twice a worker is killed with SIGKILL in the middle
of its work and another started. The merchant refunds some paid orders, in full or in parts.

**Phase 2, time jumps.** The workers are stopped; the shared clock jumps — past every order's
expiry, then minutes, then hours — and after each jump the sandbox makes the notification
retries that fell due and one in-process worker runs every job until idle (the merchant retries
refunds of orders that were not paid yet when it first asked). After a few jumps the storm
passes (faults off) and the run goes on until nothing is open. Then the clock moves to the
next day and every day of the run is reconciled against the sandbox's bills.

**The verdict.** Every order's state and amounts equal the sandbox's (:mod:`.verdict`), the
reconciliation finds no difference, and every merchant event of the outbox reached the
receiver (at least once; deduplicated by id).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from paydesk.api import create_app
from paydesk.api.embedded import config_from_sandbox
from paydesk.client import Endpoints
from paydesk.db.enums import DeliveryState, OrderState, RefundState
from paydesk.db.models import Delivery, Order, OutboxEvent, Refund
from paydesk.domain import apikeys
from paydesk.domain.context import Services, build_services
from paydesk.domain.reconcile import Difference, reconcile
from paydesk.domain.webhooks import add_endpoint
from paydesk.protocol.times import BEIJING
from paydesk.sandbox import Sandbox, SandboxCredentials
from paydesk.settings import Settings
from paydesk.settings.config import ApiVersion
from paydesk.workers import DeliveryOptions, JobContext, Worker
from paydesk.workers.jobs import worker_jobs
from tests.chaos.harness import (
    FlakyTransport,
    OffsetClock,
    WorkerProcesses,
    route,
    serving,
    write_config,
)
from tests.chaos.verdict import Verdict, judge
from tests.stack import (
    CERTIFICATE_MCHID,
    MINI_APPID,
    PAYDESK_URL,
    PUBLIC_KEY_MCHID,
    SANDBOX_URL,
    LateASGITransport,
)
from tests.workers.receiver import Receiver

__all__ = ["ChaosPlan", "ChaosReport", "run_chaos"]

#: One merchant on Pay v3 (public-key mode), one on Pay v2 (its notifications are XML).
API_VERSIONS: dict[str, ApiVersion] = {PUBLIC_KEY_MCHID: "v3", CERTIFICATE_MCHID: "v2"}
MERCHANTS = (PUBLIC_KEY_MCHID, CERTIFICATE_MCHID)
NOTIFY = "/api/v1/notify/"
#: Seconds the clock jumps in phase 2, one round each; the storm passes after STORM_ROUNDS.
JUMPS = (60, 120, 300, 900, 1800, 3600, 3 * 3600, 3 * 3600, 6 * 3600, 6 * 3600, 6 * 3600)
STORM_ROUNDS = 5


@dataclass(frozen=True, kw_only=True)
class ChaosPlan:
    """How big and how rough the run is."""

    orders: int = 60
    seed: int = 20260301
    workers: int = 2  #: worker processes at a time (use 1 on SQLite)
    kills: int = 2  #: SIGKILLs during phase 1
    ttl_seconds: int = 600  #: every order's expires_in
    concurrency: int = 12  #: shoppers at once
    notify_faults: float = 0.2  #: probability of each notification fault kind
    api_faults: float = 0.15  #: probability of a 5xx on queries, closes, refunds
    prepay_faults: float = 0.05  #: probability of a 5xx on a prepay
    paydesk_down: float = 0.08  #: share of notifications that find paydesk answering 503
    receiver_down: float = 0.1  #: share of webhooks the merchant answers 503


@dataclass
class ChaosReport:
    """What happened, and the verdict."""

    orders: int
    faults_injected: int
    mismatched_orders: int
    fen_difference: int
    undelivered_events: int
    reconcile_differences: list[Difference] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  #: one line per mismatched order
    counts: Counter[str] = field(default_factory=Counter)
    phases: dict[str, float] = field(default_factory=dict)  #: wall seconds per phase

    def summary(self) -> dict[str, int]:
        """The five figures (bench/chaos.py prints them as its last line)."""
        return {
            "orders": self.orders,
            "faults_injected": self.faults_injected,
            "mismatched_orders": self.mismatched_orders,
            "fen_difference": self.fen_difference,
            "undelivered_events": self.undelivered_events,
        }


class ChaosError(AssertionError):
    """The run could not go on (an answer no retry will change)."""


@dataclass
class Shopper:
    """A mini program user: their own client address, token and openid."""

    client: httpx.AsyncClient
    token: str
    openid: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Run:
    """Everything one run holds."""

    plan: ChaosPlan
    clock: OffsetClock
    rng: random.Random
    sandbox: Sandbox
    services: Services
    app: Any  #: paydesk's ASGI app (each shopper gets their own client to it)
    api: httpx.AsyncClient
    control: httpx.AsyncClient
    merchant: dict[str, str]
    flaky: FlakyTransport
    receivers: dict[str, Receiver]
    counts: Counter[str] = field(default_factory=Counter)
    paid: list[tuple[str, int]] = field(default_factory=list)  #: (order id, amount)
    deferred: list[tuple[str, int, int]] = field(default_factory=list)  #: refunds not yet asked
    receiver_503s: int = 0  #: answered by the receivers during the storm


async def call(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    ok: tuple[int, ...] = (200, 201),
    tries: int = 8,
    **kwargs: Any,
) -> httpx.Response:
    """A request retried while the answer is 5xx or 429 (a client backing off); else as is."""
    for attempt in range(tries):
        response = await client.request(method, url, **kwargs)
        if response.status_code in ok or (
            response.status_code < 500 and response.status_code != 429
        ):
            return response
        await asyncio.sleep(0.02 * (attempt + 1))
    return response


# --- phase 1: shopping in the storm ----------------------------------------------------------


async def faults_on(run: Run) -> None:
    """Switch every sandbox fault on, each rule with its own seed."""
    p, api, seed = run.plan.notify_faults, run.plan.api_faults, run.plan.seed
    rules: list[dict[str, Any]] = [
        {"kind": "drop", "path": NOTIFY, "probability": p},
        {"kind": "duplicate", "path": NOTIFY, "probability": p},
        {"kind": "delay", "path": NOTIFY, "probability": p, "seconds": 90},
        {"kind": "reorder", "path": NOTIFY, "probability": p, "seconds": 20},
        {"kind": "5xx", "path": "/v3/pay/transactions/out-trade-no/", "probability": api},
        {"kind": "5xx", "path": "/v3/refund/", "probability": api},
        {
            "kind": "5xx",
            "path_regex": "^/pay/(orderquery|closeorder|refundquery)$",
            "probability": api,
        },
        {"kind": "5xx", "path": "/secapi/pay/refund", "probability": api},
        {
            "kind": "5xx",
            "path_regex": "^/(v3/pay/transactions/jsapi|pay/unifiedorder)$",
            "probability": run.plan.prepay_faults,
        },
    ]
    for n, rule in enumerate(rules):
        rule["seed"] = seed + 100 + n
    answer = await run.control.post("/_sandbox/faults", json={"rules": rules})
    if answer.status_code != 200:
        raise ChaosError(f"faults refused: {answer.text}")


async def storm_passes(run: Run) -> int:
    """Every fault off; returns how many the sandbox injected."""
    rules = (await run.control.get("/_sandbox/faults")).json()["rules"]
    await run.control.delete("/_sandbox/faults")
    run.flaky.probability = 0.0
    for receiver in run.receivers.values():
        run.receiver_503s -= receiver.statuses.count(503)  # the ones never answered
        receiver.statuses.clear()
    return sum(int(rule["fired"]) for rule in rules)


async def log_in(run: Run, number: int) -> Shopper:
    """A user on their own phone (client address) logs in with a fresh ``wx.login`` code."""
    address = f"10.7.{number // 200}.{number % 200 + 1}"
    transport = httpx.ASGITransport(app=run.app, client=(address, 40000))
    client = httpx.AsyncClient(transport=transport, base_url=PAYDESK_URL)
    code = (await run.control.post("/_sandbox/login-code", json={"appid": MINI_APPID})).json()
    login = await call(
        client, "POST", "/api/v1/auth/miniprogram", json={"appid": MINI_APPID, "code": code["code"]}
    )
    if login.status_code != 200:
        raise ChaosError(f"login refused: {login.text}")
    return Shopper(client, login.json()["token"], code["openid"])


async def shop(run: Run, number: int, shopper: Shopper, rng: random.Random) -> None:
    """One order: created by the merchant, then paid, cancelled or left (by ``rng``)."""
    mchid = MERCHANTS[number % len(MERCHANTS)]
    amount = rng.randint(3, 20000)
    fate = rng.choices(["pay", "cancel", "leave", "ignore"], weights=[72, 12, 10, 6])[0]
    created = await call(
        run.api,
        "POST",
        "/api/v1/orders",
        json={
            "merchant_order_id": f"chaos-{number}",
            "amount": amount,
            "description": f"chaos order {number}",
            "mchid": mchid,
            "appid": MINI_APPID,
            "payer_openid": shopper.openid,
            "expires_in": run.plan.ttl_seconds,
        },
        headers={**run.merchant, "Idempotency-Key": f"chaos-order-{number}"},
    )
    if created.status_code != 201:
        raise ChaosError(f"order {number} not created: {created.text}")
    order_id = created.json()["id"]
    run.counts["orders"] += 1
    if fate == "ignore":  # never handed to WeChat: expires as CREATED
        run.counts["never paid"] += 1
        return
    started = await call(
        shopper.client,
        "POST",
        f"/api/v1/orders/{order_id}/pay",
        json={"channel": "miniprogram"},
        headers=shopper.headers,
    )
    if started.status_code != 200:
        run.counts[f"pay refused {started.status_code}"] += 1
        return
    params = started.json()["params"]
    if fate == "leave":
        run.counts["never paid"] += 1
        return
    paid = await run.control.post(
        "/_sandbox/pay",
        json={
            "prepay_id": params["package"].removeprefix("prepay_id="),
            "result": "SUCCESS" if fate == "pay" else "CANCEL",
            "openid": shopper.openid,
            "pay_sign": params["paySign"],
            "timestamp": params["timeStamp"],
            "nonce_str": params["nonceStr"],
            "sign_type": params["signType"],
        },
    )
    if paid.status_code != 200:
        raise ChaosError(f"the payer could not pay order {number}: {paid.text}")
    if fate == "cancel":
        run.counts["cancelled"] += 1
        return
    run.counts["paid"] += 1
    run.paid.append((order_id, amount))
    if rng.random() < 0.3:  # the mini program's success callback asks the server
        await call(
            shopper.client, "GET", f"/api/v1/orders/{order_id}?sync=true", headers=shopper.headers
        )


async def ask_refund(run: Run, order_id: str, amount: int, number: int) -> bool:
    """The merchant refunds ``amount``; False when the order is not PAID here yet."""
    answer = await call(
        run.api,
        "POST",
        f"/api/v1/orders/{order_id}/refunds",
        json={"amount": amount, "reason": "chaos"},
        headers={**run.merchant, "Idempotency-Key": f"chaos-refund-{order_id}-{number}"},
    )
    if answer.status_code == 201:
        run.counts["refunds asked"] += 1
        return True
    if answer.status_code == 409 and answer.json()["error"]["code"] == "order_not_paid":
        return False
    raise ChaosError(f"refund of {order_id} refused: {answer.text}")


def plan_refunds(run: Run) -> None:
    """Choose the refunds: some in full, some in part, some in two parts adding up to all."""
    for order_id, amount in run.paid:
        kind = run.rng.choices(["full", "part", "two parts", "none"], weights=[20, 15, 10, 55])[0]
        if kind == "full":
            run.deferred.append((order_id, amount, 1))
        elif kind == "part":
            run.deferred.append((order_id, max(1, amount // 3), 1))
        elif kind == "two parts":
            run.deferred.append((order_id, amount // 2, 1))
            run.deferred.append((order_id, amount - amount // 2, 2))


async def refund_what_is_paid(run: Run) -> None:
    """Ask every planned refund whose order is PAID here now; keep the rest for later."""
    waiting: list[tuple[str, int, int]] = []
    for order_id, amount, number in run.deferred:
        if any(o == order_id for o, _, _ in waiting) or not await ask_refund(
            run, order_id, amount, number
        ):
            waiting.append((order_id, amount, number))
    run.deferred = waiting


async def in_flight(run: Run, seconds: float) -> bool:
    """Wait (at most ``seconds``) until a webhook is being delivered: the moment to kill."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(sum(r.in_flight.values()) for r in run.receivers.values()):
            return True
        await asyncio.sleep(0.005)
    return False


async def storm(run: Run, workers: WorkerProcesses) -> None:
    """Phase 1 (see the module docstring)."""
    await faults_on(run)
    for _ in range(run.plan.workers):
        await workers.start()
    shoppers = [await log_in(run, n) for n in range(max(3, run.plan.orders // 8 + 1))]
    gate = asyncio.Semaphore(run.plan.concurrency)
    done = 0
    progress = asyncio.Event()
    kill_at = [run.plan.orders * (k + 1) // (run.plan.kills + 1) for k in range(run.plan.kills)]

    async def one(number: int) -> None:
        nonlocal done
        async with gate:
            rng = random.Random(run.plan.seed * 7919 + number)
            await shop(run, number, shoppers[number % len(shoppers)], rng)
        done += 1
        progress.set()

    async def monkey() -> None:
        for at in kill_at:
            while done < at:
                await progress.wait()
                progress.clear()
            if await in_flight(run, 3.0):
                run.counts["kills mid-delivery"] += 1
            await workers.kill_one()
            await workers.start()

    await asyncio.gather(monkey(), *(one(n) for n in range(run.plan.orders)))
    plan_refunds(run)
    await refund_what_is_paid(run)
    await asyncio.sleep(2.0)  # the workers deliver and sweep a little longer, then stop
    for shopper in shoppers:
        await shopper.client.aclose()


# --- phase 2: time passes ---------------------------------------------------------------------


async def count(services: Services, query: Any) -> int:
    async with services.db() as session:
        return int(await session.scalar(query) or 0)


async def settled(run: Run) -> bool:
    """Nothing open anywhere: orders, refunds, outbox, deliveries, the sandbox's queue."""
    services = run.services
    open_orders = (OrderState.CREATED, OrderState.PAYING)
    open_refunds = (RefundState.PENDING, RefundState.PROCESSING, RefundState.ABNORMAL)
    checks = (
        select(func.count()).select_from(Order).where(Order.state.in_(open_orders)),
        select(func.count()).select_from(Refund).where(Refund.state.in_(open_refunds)),
        select(func.count()).select_from(OutboxEvent).where(OutboxEvent.published_at.is_(None)),
        select(func.count()).select_from(Delivery).where(Delivery.state != DeliveryState.DELIVERED),
    )
    for query in checks:
        if await count(services, query):
            return False
    queued = [d for d in run.sandbox.pay.dispatcher.deliveries if d.state in ("pending", "held")]
    return not queued and not run.deferred


async def catch_up(run: Run, worker: Worker) -> None:
    """The sandbox makes what fell due; paydesk's worker runs until idle; refunds asked."""
    await run.sandbox.pay.run_due()
    await run.sandbox.pay.drain(60)
    await worker.run_until_idle()
    await refund_what_is_paid(run)
    await worker.run_until_idle()


def next_beijing_day(now: datetime) -> float:
    """Seconds from ``now`` to 01:00 the next Beijing day."""
    local = now.astimezone(BEIJING)
    tomorrow = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), BEIJING)
    return (tomorrow + timedelta(hours=1) - local).total_seconds()


async def time_passes(run: Run, worker: Worker) -> int:
    """Phase 2; returns the faults the sandbox injected."""
    injected = 0
    run.clock.jump(run.plan.ttl_seconds + 60)  # every order past its expiry
    await catch_up(run, worker)
    for n, seconds in enumerate(JUMPS):
        if n == STORM_ROUNDS:
            injected = await storm_passes(run)
        run.clock.jump(seconds)
        await catch_up(run, worker)
        if n >= STORM_ROUNDS and await settled(run):
            break
    return injected


async def reconcile_every_day(run: Run, first: date, worker: Worker) -> list[Difference]:
    """Move to the next day, then reconcile each day of the run (and deliver what it says)."""
    run.clock.jump(next_beijing_day(run.clock.now()))
    await catch_up(run, worker)
    today = run.clock.now().astimezone(BEIJING).date()
    differences: list[Difference] = []
    day = first
    while day < today:
        result = await reconcile(run.services, day)
        if result.errors:
            raise ChaosError(f"reconciling {day}: {result.errors}")
        differences += result.differences
        run.counts["bill lines"] += sum(len(m.bill.rows) for m in result.merchants if m.bill)
        day += timedelta(days=1)
    await worker.run_until_idle()
    return differences


async def undelivered(run: Run) -> int:
    """Outbox events no receiver verified (at least once, by id)."""
    async with run.services.db() as session:
        events = set(await session.scalars(select(OutboxEvent.id)))
    verified = [r for receiver in run.receivers.values() for r in receiver.received if r.event]
    received = {r.event_id for r in verified}
    run.counts["events"] = len(events)
    run.counts["webhooks received"] = len(verified)
    return len(events - received)


# --- the run ----------------------------------------------------------------------------------


async def timed(phases: dict[str, float], name: str, work: Callable[[], Awaitable[Any]]) -> Any:
    started = time.monotonic()
    try:
        return await work()
    finally:
        phases[name] = round(time.monotonic() - started, 2)


async def run_chaos(
    plan: ChaosPlan,
    *,
    database_url: str,
    workdir: Path,
    credentials: SandboxCredentials,
    engine: AsyncEngine | None = None,
) -> ChaosReport:
    """Run the whole scenario against ``database_url`` (migrated); see the module docstring."""
    clock = OffsetClock()
    to_api = LateASGITransport()
    flaky = FlakyTransport(to_api, probability=plan.paydesk_down, seed=plan.seed + 1)
    sandbox = Sandbox(credentials, wall=clock.now, transport=flaky, seed=plan.seed)
    config = config_from_sandbox(credentials, api_versions=API_VERSIONS)
    services = build_services(
        Settings(public_url=PAYDESK_URL, data_dir=workdir, database_url=database_url),
        config,
        clock=clock,
        engine=engine,
        endpoints=Endpoints.sandbox(SANDBOX_URL),
        wechat_transport=httpx.ASGITransport(app=sandbox.asgi()),
    )
    app = create_app(services, close_services_on_shutdown=False)
    to_api.app = app
    statuses = random.Random(plan.seed + 2)
    receivers = {
        mchid: Receiver(
            secret="",
            now=clock.unix,
            delay=0.01,
            statuses=[
                503 if statuses.random() < plan.receiver_down else 200
                for _ in range(plan.orders * 30)
            ],
        )
        for mchid in MERCHANTS
    }
    phases: dict[str, float] = {}
    first_day = clock.now().astimezone(BEIJING).date()
    await sandbox.start()
    api = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PAYDESK_URL)
    control = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox.asgi()), base_url=SANDBOX_URL
    )
    try:
        async with serving(sandbox.asgi()) as sandbox_url, serving(route(receivers)) as hooks:
            async with services.db.begin() as session:
                key, _ = await apikeys.create_api_key(
                    session, name="chaos", mchid=None, ids=services.ids, now=clock.now()
                )
                for mchid, receiver in receivers.items():
                    _, receiver.secret = await add_endpoint(
                        session,
                        mchid=mchid,
                        url=f"{hooks}/{mchid}",
                        ids=services.ids,
                        now=clock.now(),
                    )
            run = Run(
                plan,
                clock,
                random.Random(plan.seed),
                sandbox,
                services,
                app,
                api,
                control,
                {"Authorization": f"Bearer {key}"},
                flaky,
                receivers,
            )
            run.receiver_503s = sum(r.statuses.count(503) for r in receivers.values())
            env = {
                "PAYDESK_DATABASE_URL": database_url,
                "PAYDESK_CONFIG_FILE": str(
                    write_config(workdir / "config", credentials, api_versions=API_VERSIONS)
                ),
                "PAYDESK_PUBLIC_URL": PAYDESK_URL,
                "PAYDESK_WECHAT_PAY_BASE_URL": sandbox_url,
                "PAYDESK_WECHAT_API_BASE_URL": sandbox_url,
                "PAYDESK_DATA_DIR": str(workdir),
                "PAYDESK_ENVIRONMENT": "development",
            }
            workers = WorkerProcesses(env, workdir / "workers.log")
            try:
                await timed(phases, "storm", lambda: storm(run, workers))
            finally:
                codes = await workers.stop_all()
            if any(code != 0 for code in codes):
                raise ChaosError(f"a worker did not stop cleanly: {codes}\n{workers.output()}")
            async with httpx.AsyncClient() as http:
                ctx = JobContext(
                    db=services.db,
                    clock=clock,
                    ids=services.ids,
                    http=http,
                    rng=random.Random(plan.seed + 3),
                )
                worker = Worker(
                    worker_jobs(services, ctx, DeliveryOptions(batch_size=200)), idle_sleep=0
                )
                injected = await timed(phases, "time", lambda: time_passes(run, worker))
                differences = await timed(
                    phases, "reconcile", lambda: reconcile_every_day(run, first_day, worker)
                )
            verdict: Verdict = await judge(services, sandbox)
            lost = await undelivered(run)
    finally:
        await api.aclose()
        await control.aclose()
        await sandbox.stop()
        await services.aclose()
    run.counts["worker kills"] = workers.kills
    return ChaosReport(
        orders=plan.orders,
        faults_injected=injected + flaky.failed + run.receiver_503s + workers.kills,
        mismatched_orders=len(verdict.mismatched),
        fen_difference=verdict.fen + sum(d.fen for d in differences),
        undelivered_events=lost,
        reconcile_differences=differences,
        problems=[f"{o.order_id}: {'; '.join(o.problems)}" for o in verdict.mismatched],
        counts=run.counts,
        phases=phases,
    )
