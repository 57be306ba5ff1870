"""Mini program login (no credentials: the ``wx.login`` code is the proof).

POST /api/v1/auth/miniprogram   {"appid", "code"} → {"token", "expires_at", "user"}

The same code sent twice, or by two requests at once, gets the same session — not WeChat's
40163. A code WeChat refuses is a 400 telling the mini program to call ``wx.login`` again.
WeChat's ``session_key`` stays on the server.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from paydesk.api.deps import ServicesDep
from paydesk.api.deps_user import ClientIp
from paydesk.api.errors import error_responses
from paydesk.domain.orders.views import iso
from paydesk.domain.users import login_with_code, user_view

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class MiniProgramLogin(BaseModel):
    """What the mini program sends after ``wx.login``."""

    model_config = ConfigDict(extra="forbid")

    appid: str = Field(pattern=r"^wx[0-9a-zA-Z]{16}$")
    code: str = Field(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")


@router.post("/miniprogram", responses=error_responses(404, 409, 429, 502))
async def login_miniprogram(
    body: MiniProgramLogin, services: ServicesDep, client_ip: ClientIp
) -> dict[str, Any]:
    """Exchange a ``wx.login`` code for a paydesk session token."""
    login = await login_with_code(services, body.appid, body.code, client_ip=client_ip)
    return {
        "token": login.token,
        "expires_at": iso(login.expires_at),
        "user": user_view(login.user),
    }
