"""Customer-service messages: ``POST /cgi-bin/message/custom/send`` and
``GET /_sandbox/messages?touser=`` (PROTOCOL.md §4.3).

WeChat lets an app write to a user only within 48 hours of the user's last message to it; an
official account may then send at most five (45047). Every accepted message is recorded, so a
test or a person can see what the user would have received.

https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/mp-message-management/customer-message/api_send_msg_custom.html
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from paydesk.sandbox.identity.persons import PersonBook
from paydesk.sandbox.identity.tokens import AccessTokens
from paydesk.sandbox.identity.wxapi import WxError, control_error, read_limited, wx_route

if TYPE_CHECKING:
    from paydesk.sandbox import Sandbox

MAX_SEND_BODY = 64 * 1024
REPLY_WINDOW = timedelta(hours=48)
#: Official accounts: messages per user message within the window (service-account rule).
OFFICIAL_ACCOUNT_QUOTA = 5
#: The fields each ``msgtype`` must carry as non-empty strings.
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "text": ("content",),
    "image": ("media_id",),
    "link": ("title", "description", "url", "thumb_url"),
    "miniprogrampage": ("title", "pagepath", "thumb_media_id"),
}


@dataclass
class Window:
    """When the user last wrote to the app, and how many messages were sent since."""

    opened_at: datetime
    sent: int = 0


class CustomerService:
    """The send API, its 48 h window and the record of what was sent."""

    def __init__(self, sandbox: Sandbox, persons: PersonBook, tokens: AccessTokens) -> None:
        self.sandbox = sandbox
        self.persons = persons
        self.tokens = tokens
        self._windows: dict[tuple[str, str], Window] = {}
        self._messages: dict[str, list[dict[str, Any]]] = {}

    def reset(self) -> None:
        """Forget every message and interaction."""
        self._windows.clear()
        self._messages.clear()

    def routes(self) -> list[BaseRoute]:
        """WeChat's send route and the control route that lists messages."""
        return [
            wx_route("/cgi-bin/message/custom/send", self.send, self.sandbox.rng, ["POST"]),
            Route("/_sandbox/messages", self.list_messages, methods=["GET"]),
        ]

    def record_interaction(self, appid: str, openid: str, when: datetime) -> None:
        """The user wrote to the app (a push): the 48 h window opens again."""
        self._windows[(appid, openid)] = Window(opened_at=when)

    def messages_to(self, touser: str) -> list[dict[str, Any]]:
        """Every message sent to ``touser``, oldest first."""
        return list(self._messages.get(touser, []))

    async def send(self, request: Request) -> Response:
        """Validate the token and the body, check the window, record, answer ``ok``."""
        access_token = request.query_params.get("access_token", "")
        if not access_token:
            raise WxError(41001)
        now = self.sandbox.clock.now()
        appid = self.tokens.check(access_token, now)
        message = parse_message(await read_limited(request, MAX_SEND_BODY))
        touser = message["touser"]
        if self.persons.by_openid(appid, touser) is None:
            raise WxError(40003)
        self._spend_window(appid, touser, now)
        self._messages.setdefault(touser, []).append(
            {
                "time": now.isoformat(),
                "appid": appid,
                "msgtype": message["msgtype"],
                "body": message,
            }
        )
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    async def list_messages(self, request: Request) -> Response:
        """``GET /_sandbox/messages?touser=OPENID`` → ``{"touser", "messages": [...]}``."""
        touser = request.query_params.get("touser", "")
        if not touser:
            return control_error("touser is required")
        return JSONResponse({"touser": touser, "messages": self.messages_to(touser)})

    def _spend_window(self, appid: str, touser: str, now: datetime) -> None:
        window = self._windows.get((appid, touser))
        if window is None or now - window.opened_at >= REPLY_WINDOW:
            raise WxError(45015)
        app = self.sandbox.credentials.app(appid)
        is_official_account = app is not None and app.type == "official_account"
        if is_official_account and window.sent >= OFFICIAL_ACCOUNT_QUOTA:
            raise WxError(45047)
        window.sent += 1


def parse_message(raw: bytes | None) -> dict[str, Any]:
    """A send body checked like WeChat: 45002 too large, 44002 empty, 47001 not a JSON object
    or a field missing, 40003 no ``touser``, 40008 unknown ``msgtype``.

    >>> parse_message(b'{"touser":"o1","msgtype":"text","text":{"content":"hi"}}')["msgtype"]
    'text'
    """
    if raw is None:
        raise WxError(45002)
    if not raw.strip():
        raise WxError(44002)
    try:
        message = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WxError(47001) from exc
    if not isinstance(message, dict) or not _is_utf8_text(message):
        raise WxError(47001)
    touser, msgtype = message.get("touser"), message.get("msgtype")
    if not isinstance(touser, str) or not touser:
        raise WxError(40003)
    if not isinstance(msgtype, str) or msgtype not in REQUIRED_FIELDS:
        raise WxError(40008)
    content = message.get(msgtype)
    if not isinstance(content, dict) or not all(
        isinstance(content.get(name), str) and content[name] for name in REQUIRED_FIELDS[msgtype]
    ):
        raise WxError(47001)
    return message


def _is_utf8_text(message: dict[str, Any]) -> bool:
    """False when JSON escapes smuggled lone surrogates (``"\\ud800"``) into the strings."""
    try:
        json.dumps(message, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
