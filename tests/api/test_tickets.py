"""Paying through another mini program (seed 002) with pay tickets, against the sandbox.

The sandbox here has a second mini program, the payer app, bound to both merchants like the
first (the platform app). The platform's user gets a ticket; the payer app's user logs in with
the payer app's own appid and pays; the order records the payer app.
"""

from __future__ import annotations

import dataclasses
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from paydesk.cache import Lease, LockTimeout
from paydesk.domain.cashier.links import issue_link
from paydesk.domain.clock import FixedClock
from paydesk.domain.registry import Registry
from paydesk.domain.tickets import PAY_TICKET_PURPOSE
from paydesk.domain.tokens import sign_token
from paydesk.sandbox import SandboxCredentials
from tests.domain.users.support import (
    LoggedIn,
    UserStacks,
    login_code,
    payer_pays,
    submit_code,
    tampered,
)
from tests.stack import (
    CERTIFICATE_MCHID,
    MINI_APPID,
    OA_APPID,
    PAYDESK_URL,
    PUBLIC_KEY_MCHID,
    Stack,
)

pytestmark = pytest.mark.backends

PAYER_APPID = "wx5a0d5a0d00000003"


@pytest.fixture(scope="module")
def sandbox_credentials(sandbox_credentials: SandboxCredentials) -> SandboxCredentials:
    """The run's sandbox keys, plus a second mini program: the payer app."""
    platform = sandbox_credentials.app(MINI_APPID)
    assert platform is not None
    payer = dataclasses.replace(platform, appid=PAYER_APPID, secret="payer-app-secret-0003")
    return dataclasses.replace(sandbox_credentials, apps=(*sandbox_credentials.apps, payer))


@pytest.fixture
def stack(users: Stack) -> Stack:
    """Every test here runs on a user stack (``users``)."""
    return users


async def log_in_to(stack: Stack, appid: str) -> LoggedIn:
    """A new user of mini program ``appid``, logged in with that app's own ``wx.login`` code."""
    code = (await login_code(stack, appid=appid))["code"]
    response = await submit_code(stack, code, appid=appid)
    assert response.status_code == 200, response.text
    body = response.json()
    return LoggedIn(body["token"], body["user"], code, body["expires_at"])


async def ask_ticket(
    stack: Stack, order_id: str, headers: dict[str, str], payer_appid: str = PAYER_APPID
) -> Any:
    return await stack.api.post(
        f"/api/v1/orders/{order_id}/pay-ticket", json={"payer_appid": payer_appid}, headers=headers
    )


async def ticket_for(stack: Stack, order_id: str, headers: dict[str, str]) -> str:
    response = await ask_ticket(stack, order_id, headers)
    assert response.status_code == 201, response.text
    ticket: str = response.json()["ticket"]
    return ticket


async def pay_with(stack: Stack, ticket: str, user: LoggedIn) -> Any:
    return await stack.api.post(f"/api/v1/pay-tickets/{ticket}/pay", headers=user.headers)


def error_code(response: Any) -> str:
    code: str = response.json()["error"]["code"]
    return code


# --- the whole road -----------------------------------------------------------------------------


@pytest.mark.parametrize("mchid", [PUBLIC_KEY_MCHID, CERTIFICATE_MCHID])
async def test_the_payer_app_pays_and_the_order_records_it(stack: Stack, mchid: str) -> None:
    platform_user = await log_in_to(stack, MINI_APPID)
    order = await stack.create_order(amount=4200, mchid=mchid, user_id=platform_user.user["id"])
    issued = await ask_ticket(stack, order["id"], platform_user.headers)
    assert issued.status_code == 201, issued.text
    body = issued.json()
    assert body["object"] == "pay_ticket"
    assert (body["order_id"], body["payer_appid"]) == (order["id"], PAYER_APPID)
    assert body["extra_data"] == {"ticket": body["ticket"]}
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert timedelta(minutes=4) < expires - datetime.now(UTC) <= timedelta(minutes=5)

    payer = await log_in_to(stack, PAYER_APPID)
    paying = await pay_with(stack, body["ticket"], payer)
    assert paying.status_code == 200, paying.text
    started = paying.json()
    assert (started["channel"], started["payer_appid"]) == ("miniprogram", PAYER_APPID)
    params = started["params"]
    assert params["appId"] == PAYER_APPID
    sandbox = await stack.sandbox_client.get(
        "/_sandbox/orders", params={"out_trade_no": order["out_trade_no"]}
    )
    [prepaid] = sandbox.json()["orders"]
    assert (prepaid["appid"], prepaid["mchid"], prepaid["total"]) == (PAYER_APPID, mchid, 4200)
    assert prepaid["payer_openid"] == payer.user["openid"]
    refused = await payer_pays(stack, params, pay_sign=tampered(params["paySign"]))
    assert refused.status_code == 400, refused.text
    paid = await payer_pays(stack, params)
    assert paid.status_code == 200, paid.text
    await stack.sandbox.pay.drain()

    final = await stack.api.get(f"/api/v1/orders/{order['id']}", headers=platform_user.headers)
    assert final.status_code == 200, final.text
    assert final.json()["state"] == "PAID"
    assert final.json()["mchid"] == mchid
    assert final.json()["payer"] == {"openid": payer.user["openid"], "appid": PAYER_APPID}
    again = await pay_with(stack, body["ticket"], payer)
    assert (again.status_code, error_code(again)) == (409, "order_paid")


async def test_the_merchant_backend_can_issue_the_ticket(stack: Stack) -> None:
    order = await stack.create_order()
    ticket = await ticket_for(stack, order["id"], stack.merchant_headers)
    payer = await log_in_to(stack, PAYER_APPID)
    paying = await pay_with(stack, ticket, payer)
    assert paying.status_code == 200, paying.text
    assert paying.json()["params"]["appId"] == PAYER_APPID


# --- single use: pinned to its first payer ------------------------------------------------------


async def test_a_ticket_belongs_to_its_first_payer(stack: Stack) -> None:
    order = await stack.create_order()
    ticket = await ticket_for(stack, order["id"], stack.merchant_headers)
    first = await log_in_to(stack, PAYER_APPID)
    started = await pay_with(stack, ticket, first)
    assert started.status_code == 200, started.text
    retried = await pay_with(stack, ticket, first)  # e.g. after cancelling requestPayment
    assert retried.status_code == 200, retried.text
    assert retried.json()["reused"] is True
    assert retried.json()["payment_id"] == started.json()["payment_id"]
    second = await log_in_to(stack, PAYER_APPID)
    taken = await pay_with(stack, ticket, second)
    assert (taken.status_code, error_code(taken)) == (409, "ticket_taken")
    # A fresh ticket hands the order to somebody else (the first attempt is closed first).
    other = await pay_with(
        stack, await ticket_for(stack, order["id"], stack.merchant_headers), second
    )
    assert other.status_code == 200, other.text
    assert other.json()["payment_id"] != started.json()["payment_id"]


# --- refusals -----------------------------------------------------------------------------------


async def test_a_ticket_expires_after_five_minutes(stacks: UserStacks) -> None:
    clock = FixedClock(datetime.now(UTC).replace(microsecond=0))
    stack = await stacks.build(clock=clock)
    order = await stack.create_order()
    ticket = await ticket_for(stack, order["id"], stack.merchant_headers)
    payer = await log_in_to(stack, PAYER_APPID)
    clock.advance(5 * 60 + 1)
    expired = await pay_with(stack, ticket, payer)
    assert (expired.status_code, error_code(expired)) == (401, "expired_pay_ticket")


async def test_a_ticket_never_outlives_its_order(stacks: UserStacks) -> None:
    clock = FixedClock(datetime.now(UTC).replace(microsecond=0))
    stack = await stacks.build(clock=clock)
    order = await stack.create_order(expires_in=120)
    issued = await ask_ticket(stack, order["id"], stack.merchant_headers)
    assert issued.json()["expires_at"] == order["expires_at"]
    clock.advance(61)
    late = await ask_ticket(stack, order["id"], stack.merchant_headers)
    assert (late.status_code, error_code(late)) == (409, "order_expired")


async def test_a_ticket_works_only_in_the_app_it_names(stack: Stack) -> None:
    order = await stack.create_order()
    ticket = await ticket_for(stack, order["id"], stack.merchant_headers)
    platform_user = await log_in_to(stack, MINI_APPID)
    wrong = await pay_with(stack, ticket, platform_user)
    assert (wrong.status_code, error_code(wrong)) == (403, "ticket_for_another_app")


async def test_forged_and_borrowed_tickets_are_refused(stack: Stack) -> None:
    order = await stack.create_order()
    ticket = await ticket_for(stack, order["id"], stack.merchant_headers)
    payer = await log_in_to(stack, PAYER_APPID)
    body, _, mac = ticket.partition(".")
    other = await stack.create_order()
    other_body = (await ticket_for(stack, other["id"], stack.merchant_headers)).partition(".")[0]
    cashier = await issue_link(stack.services, order["id"], mchid=None)
    for forged in (f"{other_body}.{mac}", f"{body}.{tampered(mac)}", "x.y", cashier.token):
        refused = await pay_with(stack, forged, payer)
        assert refused.status_code == 401, refused.text
        assert error_code(refused) == "invalid_pay_ticket"
    nobody = await stack.api.post(f"/api/v1/pay-tickets/{ticket}/pay")
    assert nobody.status_code == 401
    merchant = await stack.api.post(
        f"/api/v1/pay-tickets/{ticket}/pay", headers=stack.merchant_headers
    )
    assert merchant.status_code == 401  # only a payer app's user pays


@pytest.mark.parametrize(
    ("payer_appid", "status", "code"),
    [
        (OA_APPID, 400, "payer_not_miniprogram"),
        ("wx0000000000000009", 404, "app_not_found"),
        ("not-an-appid", 400, "invalid_request"),
    ],
)
async def test_the_payer_app_must_be_a_configured_mini_program(
    stack: Stack, payer_appid: str, status: int, code: str
) -> None:
    order = await stack.create_order()
    refused = await ask_ticket(stack, order["id"], stack.merchant_headers, payer_appid)
    assert (refused.status_code, error_code(refused)) == (status, code)


async def test_the_payer_app_must_be_bound_to_the_orders_merchant(stack: Stack) -> None:
    config = stack.services.registry.config
    apps = [
        a.model_copy(update={"merchants": (CERTIFICATE_MCHID,)}) if a.appid == PAYER_APPID else a
        for a in config.apps
    ]
    stack.services.registry = Registry(config.model_copy(update={"apps": apps}), PAYDESK_URL)
    order = await stack.create_order(mchid=PUBLIC_KEY_MCHID)
    refused = await ask_ticket(stack, order["id"], stack.merchant_headers)
    assert (refused.status_code, error_code(refused)) == (400, "app_not_bound")


async def test_only_the_orders_own_user_gets_a_ticket(stack: Stack) -> None:
    owner = await log_in_to(stack, MINI_APPID)
    somebody = await log_in_to(stack, MINI_APPID)
    order = await stack.create_order(user_id=owner.user["id"])
    refused = await ask_ticket(stack, order["id"], somebody.headers)
    assert (refused.status_code, error_code(refused)) == (404, "order_not_found")
    nobody = await stack.api.post(
        f"/api/v1/orders/{order['id']}/pay-ticket", json={"payer_appid": PAYER_APPID}
    )
    assert nobody.status_code == 401


async def test_an_order_naming_its_payer_by_openid_stays_in_that_app(stack: Stack) -> None:
    owner = await log_in_to(stack, MINI_APPID)
    order = await stack.create_order(payer_openid=owner.user["openid"])
    refused = await ask_ticket(stack, order["id"], owner.headers)
    assert (refused.status_code, error_code(refused)) == (409, "order_bound_to_payer")


async def test_no_ticket_for_an_order_that_cannot_be_paid(stack: Stack) -> None:
    order = await stack.create_order()
    closed = await stack.api.post(
        f"/api/v1/orders/{order['id']}/close", headers=stack.merchant_headers
    )
    assert closed.status_code == 200, closed.text
    refused = await ask_ticket(stack, order["id"], stack.merchant_headers)
    assert (refused.status_code, error_code(refused)) == (409, "order_not_payable")
    assert refused.json()["error"]["state"] == "CLOSED"


async def test_the_ticket_body_is_checked(stack: Stack) -> None:
    order = await stack.create_order()
    for body in ({}, {"payer_appid": PAYER_APPID, "amount": 1}):
        refused = await stack.api.post(
            f"/api/v1/orders/{order['id']}/pay-ticket", json=body, headers=stack.merchant_headers
        )
        assert (refused.status_code, error_code(refused)) == (400, "invalid_request")


async def test_a_ticket_signed_by_us_but_naming_nothing_is_refused(stack: Stack) -> None:
    payer = await log_in_to(stack, PAYER_APPID)
    expires = datetime.now(UTC) + timedelta(minutes=5)
    for payload in ({"order": "ord_1", "app": PAYER_APPID}, {"order": 1, "app": "x", "tid": "t"}):
        odd = sign_token(stack.services.secret_key, PAY_TICKET_PURPOSE, payload, expires_at=expires)
        refused = await pay_with(stack, odd, payer)
        assert (refused.status_code, error_code(refused)) == (401, "invalid_pay_ticket")


class BusyLock(AbstractAsyncContextManager[Lease]):
    """A lock somebody else holds for longer than anyone waits."""

    def __init__(self, name: str, wait: float) -> None:
        self.name, self.wait = name, wait

    async def __aenter__(self) -> Lease:
        raise LockTimeout(self.name, wait=self.wait)

    async def __aexit__(self, *exc_info: object) -> None:
        return None


class BusyLocks:
    """Locks that are always held by somebody else."""

    def lock(self, name: str, *, ttl: float, wait: float) -> AbstractAsyncContextManager[Lease]:
        return BusyLock(name, wait)


async def test_a_ticket_in_use_at_this_instant_asks_to_try_again(stack: Stack) -> None:
    order = await stack.create_order()
    ticket = await ticket_for(stack, order["id"], stack.merchant_headers)
    payer = await log_in_to(stack, PAYER_APPID)
    stack.services.cache = dataclasses.replace(stack.services.cache, locks=BusyLocks())
    busy = await pay_with(stack, ticket, payer)
    assert (busy.status_code, error_code(busy)) == (409, "ticket_busy")
