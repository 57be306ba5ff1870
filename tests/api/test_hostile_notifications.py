"""Hostile requests to WeChat's notification URLs: refused fast with a 4xx, nothing changed.

XML bombs and external entities, ten megabytes, bytes that are not UTF-8, headers with CR/LF,
forged and foreign ``Wechatpay-Serial`` values, absurd timestamps. Each is posted to the
routes as they are (``POST /api/v1/notify/wechatpay/{v3,v2}/{mchid}``); afterwards every table
but ``notifications`` is exactly as before, and ``notifications`` holds at most the one row
recording the refusal.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from paydesk.db.models import Base, Notification
from tests.domain.notifications.world import (
    Paying,
    merchant,
    order_row,
    paying_order,
    seal_v3,
    transaction,
    v2_payment,
)
from tests.stack import CERTIFICATE_MCHID, PUBLIC_KEY_MCHID, Stack, StackFactory

pytestmark = pytest.mark.backends

V3 = f"/api/v1/notify/wechatpay/v3/{PUBLIC_KEY_MCHID}"
V2 = f"/api/v1/notify/wechatpay/v2/{CERTIFICATE_MCHID}"
#: A refusal answers at once: no waiting on an entity, a DTD or a body that never ends.
FAST_SECONDS = 1.0

BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10 if n > 1 else "&lol;" * 10}">'.encode()
        for n in range(1, 10)
    )
    + b"]><xml><return_code>&lol9;</return_code></xml>"
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b"<xml><return_code>&xxe;</return_code></xml>"
)
EXTERNAL_DTD = b'<?xml version="1.0"?><!DOCTYPE xml SYSTEM "http://127.0.0.1:9/evil.dtd"><xml/>'
PARAMETER_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/x">'
    b"%remote;]><xml/>"
)


@dataclass(frozen=True)
class Hostile:
    """One hostile delivery: where, what, and the answer it must get."""

    path: str
    body: bytes
    headers: dict[str, str | bytes]
    status: int
    #: The refusal's stored verdict; None: nothing may be stored (refused before the route).
    verdict: str | None

    @property
    def wire(self) -> list[tuple[bytes, bytes]]:
        """The headers as bytes, exactly as given (CR, LF and non-ASCII bytes included)."""
        return [
            (name.encode(), value if isinstance(value, bytes) else value.encode())
            for name, value in self.headers.items()
        ]


@dataclass(frozen=True)
class World:
    stack: Stack
    v3_order: Paying
    v2_order: Paying


@pytest.fixture
async def world(make_stack: StackFactory) -> World:
    """Merchant 1900000001 on Pay v3, 1900000002 on v2, each with a PAYING order."""
    stack = await make_stack(api_versions={CERTIFICATE_MCHID: "v2"})
    v3_order = await paying_order(stack, mchid=PUBLIC_KEY_MCHID, amount=100)
    v2_order = await paying_order(stack, mchid=CERTIFICATE_MCHID, amount=200)
    return World(stack, v3_order, v2_order)


def v3_forged(world: World, **header_changes: str | bytes) -> Hostile:
    """A real-looking v3 payment notification with some headers replaced."""
    headers, body = seal_v3(world.stack, PUBLIC_KEY_MCHID, transaction(world.v3_order))
    return Hostile(V3, body, {**headers, **header_changes}, 401, "rejected_signature")


def v2_xml(body: bytes, status: int = 400, verdict: str = "rejected_malformed") -> Hostile:
    return Hostile(V2, body, {"Content-Type": "text/xml"}, status, verdict)


CASES: dict[str, Callable[[World], Hostile]] = {
    "v2-billion-laughs": lambda w: v2_xml(BILLION_LAUGHS),
    "v2-external-entity": lambda w: v2_xml(EXTERNAL_ENTITY),
    "v2-external-dtd": lambda w: v2_xml(EXTERNAL_DTD),
    "v2-parameter-entity": lambda w: v2_xml(PARAMETER_ENTITY),
    "v2-deep-nesting": lambda w: v2_xml(b"<xml>" + b"<a>" * 5000 + b"</a>" * 5000 + b"</xml>"),
    "v2-not-utf8": lambda w: v2_xml(b"<xml><return_code>\xff\xfe\xb3\xc9</return_code></xml>"),
    "v2-gbk-declared": lambda w: v2_xml(
        '<?xml version="1.0" encoding="GBK"?><xml><return_code>成功</return_code></xml>'.encode(
            "gbk"
        )
    ),
    "v2-forged-sign": lambda w: v2_xml(
        v2_payment(w.stack, w.v2_order, sign_type="HMAC-SHA256", key="k" * 32),
        status=401,
        verdict="rejected_signature",
    ),
    "v3-unknown-serial": lambda w: v3_forged(w, **{"Wechatpay-Serial": "PUB_KEY_ID_" + "0" * 32}),
    "v3-foreign-serial": lambda w: v3_forged(
        w, **{"Wechatpay-Serial": merchant(w.stack, CERTIFICATE_MCHID).platform_serial}
    ),
    "v3-crlf-in-headers": lambda w: v3_forged(
        w,
        **{
            "Wechatpay-Serial": "PUB_KEY_ID_1\r\nX-Injected: yes",
            "Wechatpay-Nonce": "n\r\n\r\n{}",
        },
    ),
    "v3-not-latin1-header": lambda w: v3_forged(w, **{"Wechatpay-Signature": b"\xff\xfe\x00"}),
    "v3-absurd-timestamp": lambda w: v3_forged(w, **{"Wechatpay-Timestamp": "9" * 40}),
    "v3-negative-timestamp": lambda w: v3_forged(w, **{"Wechatpay-Timestamp": "-1"}),
    "v3-not-utf8-body": lambda w: Hostile(
        V3,
        b'{"id": "\xff\xfe"}',
        dict(seal_v3(w.stack, PUBLIC_KEY_MCHID, transaction(w.v3_order))[0]),
        401,
        "rejected_signature",
    ),
    "v3-unsigned": lambda w: Hostile(
        V3, b'{"resource": {}}', {"Content-Type": "application/json"}, 401, "rejected_signature"
    ),
    "v3-ten-megabytes": lambda w: Hostile(V3, b" " * 10 * 1024 * 1024, {}, 413, None),
    "v2-ten-megabytes": lambda w: Hostile(V2, b"<" * 10 * 1024 * 1024, {}, 413, None),
}


async def row_counts(stack: Stack) -> dict[str, int]:
    """How many rows each table has."""
    async with stack.services.db() as session:
        return {
            table.name: int(await session.scalar(select(func.count()).select_from(table)) or 0)
            for table in Base.metadata.sorted_tables
        }


async def verdicts(stack: Stack) -> list[str]:
    async with stack.services.db() as session:
        return list(await session.scalars(select(Notification.verdict)))


@pytest.mark.parametrize("case", sorted(CASES))
async def test_a_hostile_notification_is_refused_fast_and_changes_nothing(
    world: World, case: str
) -> None:
    hostile = CASES[case](world)
    before = await row_counts(world.stack)

    started = time.monotonic()
    response = await world.stack.api.post(hostile.path, content=hostile.body, headers=hostile.wire)
    elapsed = time.monotonic() - started

    assert response.status_code == hostile.status, response.text
    assert elapsed < FAST_SECONDS, f"{case} took {elapsed:.2f} s"
    assert "x-injected" not in response.headers
    assert "root:" not in response.text  # no file content echoed back
    after = await row_counts(world.stack)
    stored = 0 if hostile.verdict is None else 1
    assert after == {**before, "notifications": before["notifications"] + stored}
    assert await verdicts(world.stack) == ([hostile.verdict] if hostile.verdict else [])
    for paying in (world.v3_order, world.v2_order):
        assert (await order_row(world.stack, paying.order_id)).state == "PAYING"


async def test_the_genuine_notification_still_gets_through_afterwards(world: World) -> None:
    """The refusals above are not a route that refuses everything."""
    for build in CASES.values():
        hostile = build(world)
        await world.stack.api.post(hostile.path, content=hostile.body, headers=hostile.wire)
    headers, body = seal_v3(world.stack, PUBLIC_KEY_MCHID, transaction(world.v3_order))
    accepted = await world.stack.api.post(V3, content=body, headers=headers)
    assert accepted.status_code == 204, accepted.text
    assert (await order_row(world.stack, world.v3_order.order_id)).state == "PAID"
