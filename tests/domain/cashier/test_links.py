"""The cashier link: issued only for payable orders, refused when forged, repurposed or stale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from paydesk.domain.cashier.links import (
    CASHIER_PURPOSE,
    RESULT_GRACE,
    issue_link,
    link_url,
    open_link,
)
from paydesk.domain.clock import FixedClock
from paydesk.domain.errors import Conflict, NotFound, Unauthenticated
from paydesk.domain.tokens import sign_token
from tests.stack import CERTIFICATE_MCHID, PUBLIC_KEY_MCHID, StackFactory

pytestmark = pytest.mark.backends


async def test_a_link_names_its_order_and_expires_with_it(make_stack: StackFactory) -> None:
    clock = FixedClock(datetime.now(UTC))
    stack = await make_stack(clock=clock)
    order = await stack.create_order(expires_in=300)
    link = await issue_link(stack.services, order["id"], mchid=PUBLIC_KEY_MCHID)
    assert link.url == link_url("http://paydesk.test", link.token)
    assert link.expires_at == clock.now() + timedelta(seconds=300)
    assert open_link(stack.services, link.token).order_id == order["id"]
    assert not open_link(stack.services, link.token).expired
    clock.advance(301)
    assert open_link(stack.services, link.token).expired  # the result page still answers
    clock.advance(RESULT_GRACE.total_seconds())
    with pytest.raises(Unauthenticated) as refused:
        open_link(stack.services, link.token)
    assert refused.value.code == "expired_cashier"


async def test_links_are_scoped_to_the_merchant_and_to_payable_orders(
    make_stack: StackFactory,
) -> None:
    clock = FixedClock(datetime.now(UTC))
    stack = await make_stack(clock=clock)
    order = await stack.create_order(expires_in=60)
    with pytest.raises(NotFound):
        await issue_link(stack.services, order["id"], mchid=CERTIFICATE_MCHID)
    assert (await issue_link(stack.services, order["id"], mchid=None)).order_id == order["id"]
    clock.advance(60)
    with pytest.raises(Conflict) as expired:
        await issue_link(stack.services, order["id"], mchid=None)
    assert expired.value.code == "order_expired"


@pytest.mark.parametrize(
    ("purpose", "payload", "key"),
    [
        ("pay-ticket", {"order": "ord_1"}, None),  # another kind of token
        (CASHIER_PURPOSE, {"order": "ord_1"}, b"another-secret-another-secret-xx"),
        (CASHIER_PURPOSE, {"ticket": "ord_1"}, None),  # signed, but names no order
        (CASHIER_PURPOSE, {"order": ""}, None),
    ],
    ids=["wrong-purpose", "wrong-key", "no-order", "empty-order"],
)
async def test_tokens_that_are_not_cashier_links_are_refused(
    make_stack: StackFactory, purpose: str, payload: dict[str, str], key: bytes | None
) -> None:
    stack = await make_stack()
    secret = key or stack.services.secret_key
    token = sign_token(secret, purpose, payload, expires_at=datetime.now(UTC) + timedelta(hours=1))
    with pytest.raises(Unauthenticated) as refused:
        open_link(stack.services, token)
    assert refused.value.code == "invalid_cashier"


async def test_a_tampered_token_is_refused(make_stack: StackFactory) -> None:
    stack = await make_stack()
    order = await stack.create_order()
    token = (await issue_link(stack.services, order["id"], mchid=None)).token
    body, mac = token.split(".")
    other = sign_token(
        stack.services.secret_key,
        CASHIER_PURPOSE,
        {"order": "ord_other"},
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    )
    for forged in (f"{other.split('.')[0]}.{mac}", f"{body}.{mac[::-1]}", body, ""):
        with pytest.raises(Unauthenticated):
            open_link(stack.services, forged)
