"""Mini program login: a ``wx.login`` code → a paydesk session (PROTOCOL.md §4.1).

1. The app must be a configured mini program; logins are rate-limited per (app, address) and
   per code.
2. The code is claimed in ``login_codes`` (:mod:`.claims`) *before* WeChat is asked, so a code
   submitted twice — one after the other, or at the same instant — reaches ``jscode2session``
   once. The other submissions wait for that outcome and share it: the same session (its token
   is derived from the code, :mod:`.tokens`) or the same refusal.
3. The user is created or refreshed, and the session stored with WeChat's ``session_key``.

A replay is honoured only within :data:`REPLAY_WINDOW` of the first submission — WeChat's own
code lifetime — and only while the session is still live.

Doc: https://developers.weixin.qq.com/miniprogram/dev/server/API/user-login/api_code2session
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from paydesk import client
from paydesk.db.enums import LoginCodeState
from paydesk.db.models import LoginCode, User
from paydesk.domain.errors import Conflict, InvalidInput
from paydesk.domain.payments.remote import upstream
from paydesk.domain.users import claims, limits
from paydesk.domain.users.people import get_user, remember_user
from paydesk.domain.users.sessions import find_session, open_session, sessions_in_database
from paydesk.domain.users.tokens import digest, session_token

if TYPE_CHECKING:
    from paydesk.domain.context import Services

__all__ = ["REPLAY_WINDOW", "Login", "login_with_code", "refusal"]

#: WeChat's login codes live five minutes; a replay of one is honoured as long.
REPLAY_WINDOW = timedelta(minutes=5)
#: Rounds of claim-or-wait: a released claim (WeChat unreachable) is claimed again.
_ROUNDS = 3
_REASONS = {
    40029: "the code is invalid or expired",
    40163: "the code was already used",
    42003: "the code has expired",
    40226: "the code was blocked for a high-risk user",
}


@dataclass(frozen=True)
class Login:
    """A logged-in user: the token to send as ``Authorization: Bearer``, until ``expires_at``."""

    token: str
    expires_at: datetime
    user: User


def refusal(error: str) -> InvalidInput:
    """What a client is told about a code WeChat refused (``error``: WeChat's errcode).

    >>> refusal("40163").message
    'WeChat refused this login code (40163: the code was already used); call wx.login again'
    """
    reason = _REASONS.get(int(error), "see WeChat's errcode list") if error.isdigit() else "?"
    return InvalidInput(
        "login_code_rejected",
        f"WeChat refused this login code ({error}: {reason}); call wx.login again",
        wechat_errcode=error,
    )


async def login_with_code(
    services: Services, appid: str, code: str, *, client_ip: str | None
) -> Login:
    """Exchange the ``wx.login`` code ``code`` of mini program ``appid`` for a session."""
    app = services.registry.app(appid)
    if app.type != "miniprogram":
        raise InvalidInput(
            "not_a_miniprogram",
            f"app {appid} is a {app.type}: wx.login exists only in mini programs",
        )
    code_hash = digest(code)
    await limits.enforce(services, f"login:{appid}:{client_ip or '-'}", limits.LOGIN_PER_CLIENT)
    await limits.enforce(services, f"login-code:{appid}:{code_hash}", limits.LOGIN_PER_CODE)
    token = session_token(services.secret_key, appid, code)
    for _ in range(_ROUNDS):
        if await claims.try_claim(services.db, appid, code_hash, now=services.clock.now()):
            return await _exchange(services, appid, code, code_hash, token)
        outcome = await claims.wait(services.db, appid, code_hash, clock=services.clock)
        if outcome is not None:
            return await _replay(services, outcome, token)
    raise Conflict("login_in_progress", "this login code keeps failing to be exchanged; retry")


async def _exchange(services: Services, appid: str, code: str, code_hash: str, token: str) -> Login:
    """Ask WeChat (our claim), then store the user and the session and settle the claim."""
    account = services.wechat.app(appid)
    try:
        answer = await services.wechat.login.code_to_session(account, code)
    except client.LoginError as exc:
        error = str(exc.errcode)
        await claims.fail(services.db, appid, code_hash, error=error, now=services.clock.now())
        raise refusal(error) from exc
    except BaseException as exc:
        # Unreachable, busy, or cancelled: no outcome, so the code may be submitted again
        # (if WeChat did spend it, the retry hears 40163 and is told to log in again).
        await claims.release(services.db, appid, code_hash)
        if isinstance(exc, client.WeChatError):
            raise upstream(exc) from exc
        raise
    try:
        user = await remember_user(
            services.db,
            appid=appid,
            openid=answer.openid,
            unionid=answer.unionid,
            ids=services.ids,
            now=services.clock.now(),
        )
        record = await open_session(services, user, token=token, session_key=answer.session_key)
    except BaseException:
        await claims.release(services.db, appid, code_hash)
        raise
    session_id = record.session_id if sessions_in_database(services) else None
    await claims.finish(
        services.db, appid, code_hash, session_id=session_id, now=services.clock.now()
    )
    return Login(token, record.expires_at, user)


async def _replay(services: Services, outcome: LoginCode, token: str) -> Login:
    """The outcome of an earlier submission of the same code, for this one."""
    if outcome.state == LoginCodeState.FAILED:
        raise refusal(outcome.error or "")
    if services.clock.now() - outcome.created_at > REPLAY_WINDOW:
        raise InvalidInput(
            "login_code_expired", "this login code was used long ago; call wx.login again"
        )
    record = await find_session(services, token)
    if record is None:
        raise InvalidInput(
            "login_code_used", "this login code's session has ended; call wx.login again"
        )
    user = await get_user(services.db, record.user_id)
    return Login(token, record.expires_at, user)
