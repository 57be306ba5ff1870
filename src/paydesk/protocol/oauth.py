"""Official-account OAuth2 web authorization: the authorize URL and its callback (§4.5).

JSAPI pay in WeChat's browser needs the payer's openid *for the paying official account*;
the page gets it by sending the browser to WeChat's authorize URL, which comes back to
``redirect_uri?code=CODE&state=STATE`` (only ``state`` when the user refuses)
(https://developers.weixin.qq.com/doc/offiaccount/OA_Web_Apps/Wechat_webpage_authorization.html,
read through public copies; PROTOCOL.md §4.5).

The URL is built by hand, in the documented parameter order with ``#wechat_redirect`` last,
so it matches WeChat's own examples character for character. ``state`` is 1–128
characters of ``[a-zA-Z0-9]``; it must be a single-use value bound to the browser session
(reliability note 2.8), which is the caller's job.

>>> authorize_url(appid="wx520c15f417810387", redirect_uri="https://pay.example.com/oauth/cb",
...               scope="snsapi_base", state="s123")
'https://open.weixin.qq.com/connect/oauth2/authorize?appid=wx520c15f417810387&redirect_uri=https%3A%2F%2Fpay.example.com%2Foauth%2Fcb&response_type=code&scope=snsapi_base&state=s123#wechat_redirect'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, TypeAlias
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from paydesk.protocol.errors import MalformedInput

__all__ = [
    "AUTHORIZE_PATH",
    "AuthorizeRequest",
    "Scope",
    "authorize_url",
    "callback_url",
    "check_state",
    "parse_authorize_query",
]

#: The two scopes: ``snsapi_base`` (silent, openid only) and ``snsapi_userinfo`` (consent page).
Scope: TypeAlias = Literal["snsapi_base", "snsapi_userinfo"]
#: Where the authorize page lives on ``open.weixin.qq.com`` (and on the sandbox).
AUTHORIZE_PATH = "/connect/oauth2/authorize"

_STATE = re.compile(r"[a-zA-Z0-9]{1,128}")
_SCOPES: tuple[Scope, ...] = ("snsapi_base", "snsapi_userinfo")


def check_state(state: str) -> str:
    """Return ``state`` if it is 1–128 characters of ``[a-zA-Z0-9]``, else ``MalformedInput``.

    >>> check_state("abc123")
    'abc123'
    """
    if not _STATE.fullmatch(state):
        raise MalformedInput("OAuth state must be 1-128 characters of [a-zA-Z0-9]", field="state")
    return state


def _check_scope(scope: str) -> Scope:
    for known in _SCOPES:
        if scope == known:
            return known
    raise MalformedInput(
        f"OAuth scope {scope!r} is not snsapi_base or snsapi_userinfo", field="scope"
    )


def _quote(value: str, field: str) -> str:
    try:
        return quote(value, safe="")
    except UnicodeEncodeError as exc:
        raise MalformedInput(f"OAuth {field} is not valid UTF-8 text", field=field) from exc


def authorize_url(
    *,
    appid: str,
    redirect_uri: str,
    scope: Scope,
    state: str,
    host: str = "https://open.weixin.qq.com",
) -> str:
    """The URL that starts OAuth for ``appid``, coming back to ``redirect_uri``.

    ``host`` points at the sandbox in offline runs.

    >>> authorize_url(appid="wx1", redirect_uri="https://a.example/cb?x=1 2",
    ...               scope="snsapi_userinfo", state="S", host="http://127.0.0.1:8000/sandbox",
    ...               ).split("?", 1)[1]
    'appid=wx1&redirect_uri=https%3A%2F%2Fa.example%2Fcb%3Fx%3D1%202&response_type=code&scope=snsapi_userinfo&state=S#wechat_redirect'
    """
    if not appid:
        raise MalformedInput("OAuth appid is empty", field="appid")
    if not redirect_uri:
        raise MalformedInput("OAuth redirect_uri is empty", field="redirect_uri")
    return (
        f"{host.rstrip('/')}{AUTHORIZE_PATH}?appid={_quote(appid, 'appid')}"
        f"&redirect_uri={_quote(redirect_uri, 'redirect_uri')}&response_type=code"
        f"&scope={_check_scope(scope)}&state={check_state(state)}#wechat_redirect"
    )


@dataclass(frozen=True, slots=True)
class AuthorizeRequest:
    """An authorize request as the sandbox's consent page receives it.

    >>> AuthorizeRequest("wx1", "https://a.example/cb", "snsapi_base", "S").scope
    'snsapi_base'
    """

    appid: str
    redirect_uri: str  #: decoded
    scope: Scope
    state: str


def parse_authorize_query(query: str | Mapping[str, str]) -> AuthorizeRequest:
    """Read and check an authorize request's query (a raw query string or a mapping).

    ``MalformedInput.field`` names the offending parameter, so the sandbox can answer with
    WeChat's code for it (10010 scope, 10011 redirect_uri, 10012 appid, 10013 state).

    >>> parse_authorize_query("appid=wx1&redirect_uri=https%3A%2F%2Fa.example%2Fcb"
    ...                       "&response_type=code&scope=snsapi_base&state=S").redirect_uri
    'https://a.example/cb'
    """
    if isinstance(query, str):
        pairs = parse_qsl(query, keep_blank_values=True)
        params = dict(pairs)
        if len(params) != len(pairs):
            raise MalformedInput("OAuth query repeats a parameter")
    else:
        params = dict(query)
    for name in ("appid", "redirect_uri", "scope", "state"):
        if not params.get(name):
            raise MalformedInput(f"OAuth {name} is missing", field=name)
    if params.get("response_type") != "code":
        raise MalformedInput("OAuth response_type must be 'code'", field="response_type")
    try:
        redirect = urlsplit(params["redirect_uri"])
    except ValueError as exc:  # urllib refuses e.g. an unbalanced "[" in the host
        raise MalformedInput(f"OAuth redirect_uri: {exc}", field="redirect_uri") from exc
    if redirect.scheme not in ("http", "https") or not redirect.netloc:
        raise MalformedInput(
            "OAuth redirect_uri must be an absolute http(s) URL", field="redirect_uri"
        )
    return AuthorizeRequest(
        appid=params["appid"],
        redirect_uri=params["redirect_uri"],
        scope=_check_scope(params["scope"]),
        state=check_state(params["state"]),
    )


def callback_url(redirect_uri: str, *, code: str | None, state: str) -> str:
    """Where the authorize page sends the browser back: ``code`` and ``state`` appended.

    ``code=None`` is the user's refusal: WeChat then returns ``state`` alone.

    >>> callback_url("https://a.example/cb?x=1", code="C1", state="S")
    'https://a.example/cb?x=1&code=C1&state=S'
    >>> callback_url("https://a.example/cb", code=None, state="S")
    'https://a.example/cb?state=S'
    """
    parts = urlsplit(redirect_uri)
    added = urlencode({"state": state} if code is None else {"code": code, "state": state})
    query = f"{parts.query}&{added}" if parts.query else added
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
