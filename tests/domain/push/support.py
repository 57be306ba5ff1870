"""Helpers for the push and detour tests: the app's push mode, the sandbox's push URL, a user
writing to customer service, and what the sandbox recorded as sent to that user.

Pushes are the sandbox's own (``POST /_sandbox/push``): signed and encrypted as WeChat does,
sent to paydesk in-process, retried when not acknowledged.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from paydesk.db.models import PushMessage
from paydesk.domain.push import PushRuntime, PushSettings
from paydesk.domain.registry import Registry
from paydesk.settings.config import PushMode
from tests.stack import MINI_APPID, PAYDESK_URL, Stack

#: Card page path of the example mini program (examples/miniprogram/pages/pay).
PAY_PAGE = "pages/pay/pay"


def use_push_mode(stack: Stack, mode: PushMode, appid: str = MINI_APPID) -> None:
    """Configure ``appid``'s push mode as the operator would in the config file."""
    config = stack.services.registry.config
    apps = [
        app.model_copy(update={"push_mode": mode}) if app.appid == appid else app
        for app in config.apps
    ]
    stack.services.registry = Registry(config.model_copy(update={"apps": apps}), PAYDESK_URL)


def fast_runtime(stack: Stack, **settings: Any) -> PushRuntime:
    """A push worker with short retry delays, installed on the stack's app."""
    runtime = PushRuntime(PushSettings(**{"retry_delays": (0.01, 0.01), **settings}))
    stack.app.state.push_runtime = runtime
    return runtime


async def point_pushes_at_paydesk(stack: Stack, appid: str = MINI_APPID) -> None:
    """``PUT /_sandbox/push-url``: the app's pushes go to paydesk's push route."""
    response = await stack.sandbox_client.put(
        "/_sandbox/push-url", json={"appid": appid, "url": f"{PAYDESK_URL}/wechat/push/{appid}"}
    )
    assert response.status_code == 200, response.text


async def new_person(stack: Stack, appid: str = MINI_APPID) -> dict[str, str]:
    """A sandbox person who has opened the mini program: ``{"code", "openid", "unionid"}``."""
    response = await stack.sandbox_client.post("/_sandbox/login-code", json={"appid": appid})
    assert response.status_code == 200, response.text
    person: dict[str, str] = response.json()
    return person


async def user_writes(
    stack: Stack,
    openid: str,
    message: dict[str, str],
    *,
    mode: str = "safe",
    fmt: str = "xml",
    appid: str = MINI_APPID,
) -> dict[str, Any]:
    """The user sends ``message`` to customer service; the sandbox pushes it to paydesk and
    returns its record (``delivered``, ``attempts``, ``request``…)."""
    response = await stack.sandbox_client.post(
        "/_sandbox/push",
        json={"appid": appid, "openid": openid, "message": message, "mode": mode, "format": fmt},
    )
    assert response.status_code == 200, response.text
    record: dict[str, Any] = response.json()
    return record


def card(order_id: str, title: str = "我的订单") -> dict[str, str]:
    """The mini program card the example's contact button sends for ``order_id``."""
    return {
        "MsgType": "miniprogrampage",
        "Title": title,
        "PagePath": f"{PAY_PAGE}?order={order_id}",
    }


def text(content: str) -> dict[str, str]:
    """A text message."""
    return {"MsgType": "text", "Content": content}


async def sent_to(stack: Stack, openid: str) -> list[dict[str, Any]]:
    """Every customer-service message the sandbox recorded for ``openid``, oldest first."""
    response = await stack.sandbox_client.get("/_sandbox/messages", params={"touser": openid})
    assert response.status_code == 200, response.text
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages


async def stored_pushes(stack: Stack, appid: str = MINI_APPID) -> list[PushMessage]:
    """The ``push_messages`` rows of ``appid``."""
    async with stack.services.db() as session:
        rows = await session.scalars(select(PushMessage).where(PushMessage.appid == appid))
        return list(rows)
