"""Which orders a user may see and pay: their own, or unbound ones still payable or started."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from paydesk.cache import SessionRecord
from paydesk.db.models import Order
from paydesk.domain.errors import NotFound
from paydesk.domain.registry import Registry
from paydesk.domain.users.access import order_for_user, owned_by
from tests.domain.users.support import log_in, pay
from tests.stack import (
    CERTIFICATE_MCHID,
    MINI_APPID,
    OA_APPID,
    PAYDESK_URL,
    PUBLIC_KEY_MCHID,
    Stack,
)

pytestmark = pytest.mark.backends

LATER = datetime(2030, 1, 1, tzinfo=UTC)
ALICE = SessionRecord("ses_a", "usr_a", MINI_APPID, "oAlice", "k", LATER)


@pytest.mark.parametrize(
    ("order", "owned"),
    [
        (Order(user_id="usr_a"), True),
        (Order(user_id="usr_b"), False),
        (Order(user_id="usr_a", payer_openid="oBob"), True),  # the user id decides
        (Order(appid=MINI_APPID, payer_openid="oAlice"), True),
        (Order(appid=MINI_APPID, payer_openid="oBob"), False),
        (Order(appid=OA_APPID, payer_openid="oAlice"), False),  # openids are per app
        (Order(appid=OA_APPID, payer_openid="oAlice", payer_appid=MINI_APPID), True),
        (Order(appid=MINI_APPID), None),
    ],
)
def test_owned_by(order: Order, owned: bool | None) -> None:
    assert owned_by(order, ALICE) is owned


def as_record(user: dict[str, str]) -> SessionRecord:
    return SessionRecord("ses_x", user["id"], user["appid"], user["openid"], "k", LATER)


async def test_unbound_orders_are_seen_while_payable_or_once_started(users: Stack) -> None:
    alice = await log_in(users)
    bob = await log_in(users)
    order = await users.create_order()
    for user in (alice, bob):
        seen = await order_for_user(users.services, order["id"], as_record(user.user))
        assert seen.id == order["id"]
    assert (await pay(users, order["id"], alice)).status_code == 200
    close = await users.api.post(
        f"/api/v1/orders/{order['id']}/close", headers=users.merchant_headers
    )
    assert close.status_code == 200, close.text
    seen = await order_for_user(users.services, order["id"], as_record(alice.user))
    assert str(seen.state) == "CLOSED"
    with pytest.raises(NotFound):
        await order_for_user(users.services, order["id"], as_record(bob.user))


async def test_orders_of_merchants_the_app_is_not_bound_to_are_not_found(
    users: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = await log_in(users)
    theirs = await users.create_order(mchid=PUBLIC_KEY_MCHID, user_id=alice.user["id"])
    config = users.services.registry.config
    apps = [
        app.model_copy(update={"merchants": (CERTIFICATE_MCHID,)})
        if app.appid == MINI_APPID
        else app
        for app in config.apps
    ]
    narrowed = Registry(config.model_copy(update={"apps": apps}), PAYDESK_URL)
    monkeypatch.setattr(users.services, "registry", narrowed)
    with pytest.raises(NotFound):
        await order_for_user(users.services, theirs["id"], as_record(alice.user))
    with pytest.raises(NotFound):
        await order_for_user(users.services, "ord_missing", as_record(alice.user))
