"""OAuth in the browser: authorize validates like WeChat, snsapi_base redirects at once,
snsapi_userinfo asks (Allow → code + state, Deny → state only), the person cookie, as-user
without open redirects, and URLs that keep the mount prefix."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from paydesk.sandbox import Sandbox
from paydesk.sandbox.credentials import AppCredentials
from paydesk.sandbox.identity.oauth_pages import COOKIE, TICKET_LIFETIME, is_sandbox_path

CALLBACK = "https://merchant.example/oauth/callback"


def authorize_params(
    app: AppCredentials, scope: str = "snsapi_base", **extra: str
) -> dict[str, str]:
    return {
        "appid": app.appid,
        "redirect_uri": CALLBACK,
        "response_type": "code",
        "scope": scope,
        "state": "STATE123",
        **extra,
    }


def query_of(location: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(location).query)


async def exchange(client: httpx.AsyncClient, app: AppCredentials, code: str) -> dict[str, str]:
    params = {
        "appid": app.appid,
        "secret": app.secret,
        "code": code,
        "grant_type": "authorization_code",
    }
    answer: dict[str, str] = (await client.get("/sns/oauth2/access_token", params=params)).json()
    return answer


def consent_ticket(html: str) -> str:
    found = re.search(r'name="ticket" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


async def test_snsapi_base_redirects_at_once_with_code_and_state_and_sets_the_person(
    sandbox: Sandbox, sandbox_client: httpx.AsyncClient, oa: AppCredentials
) -> None:
    response = await sandbox_client.get("/connect/oauth2/authorize", params=authorize_params(oa))
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(CALLBACK + "?code=")
    query = query_of(location)
    assert query["state"] == ["STATE123"]
    unionid = response.cookies[COOKIE]
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "path=/" in cookie
    person = sandbox.identity.persons.person(unionid)
    answer = await exchange(sandbox_client, oa, query["code"][0])
    assert answer["openid"] == person.openid_for(oa.appid)


async def test_the_cookie_keeps_the_same_person_and_an_unknown_one_makes_a_new_one(
    sandbox: Sandbox, sandbox_client: httpx.AsyncClient, oa: AppCredentials
) -> None:
    first = await sandbox_client.get("/connect/oauth2/authorize", params=authorize_params(oa))
    unionid = first.cookies[COOKIE]
    sandbox_client.cookies.set(COOKIE, unionid)
    second = await sandbox_client.get("/connect/oauth2/authorize", params=authorize_params(oa))
    assert "set-cookie" not in second.headers
    code = query_of(second.headers["location"])["code"][0]
    assert (await exchange(sandbox_client, oa, code))["openid"] == sandbox.identity.persons.person(
        unionid
    ).openid_for(oa.appid)
    sandbox_client.cookies.set(COOKIE, "o-forgotten-by-a-reset")
    third = await sandbox_client.get("/connect/oauth2/authorize", params=authorize_params(oa))
    assert third.cookies[COOKIE] not in (unionid, "o-forgotten-by-a-reset")
    assert len(sandbox.identity.persons) == 2


async def test_the_redirect_keeps_the_callbacks_own_query_and_fragment(
    sandbox_client: httpx.AsyncClient, oa: AppCredentials
) -> None:
    params = authorize_params(oa, redirect_uri="https://m.example/cb?order=42#top")
    location = (await sandbox_client.get("/connect/oauth2/authorize", params=params)).headers[
        "location"
    ]
    assert re.fullmatch(r"https://m\.example/cb\?order=42&code=\w+&state=STATE123#top", location)


async def test_snsapi_userinfo_shows_a_consent_page_then_allow_redirects_with_a_code(
    sandbox: Sandbox, sandbox_client: httpx.AsyncClient, oa: AppCredentials
) -> None:
    page = await sandbox_client.get(
        "/connect/oauth2/authorize", params=authorize_params(oa, "snsapi_userinfo")
    )
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    person = sandbox.identity.persons.person(page.cookies[COOKIE])
    html = page.text
    for expected in (
        "沙箱公众号",
        "Sandbox official account",
        person.nickname,
        "允许",
        "Allow",
        "拒绝",
        "Deny",
        oa.appid,
        "merchant.example",
        'action="http://sandbox.test/_sandbox/oauth/consent"',
        f"http://sandbox.test/_sandbox/avatar/{person.unionid}.svg",
    ):
        assert expected in html
    answer = await sandbox_client.post(
        "/_sandbox/oauth/consent",
        data={"ticket": consent_ticket(html), "decision": "allow"},
    )
    assert answer.status_code == 302
    query = query_of(answer.headers["location"])
    assert query["state"] == ["STATE123"]
    token = await exchange(sandbox_client, oa, query["code"][0])
    assert token["scope"] == "snsapi_userinfo"
    assert token["unionid"] == person.unionid


async def test_deny_redirects_with_only_the_state(
    sandbox_client: httpx.AsyncClient, oa: AppCredentials
) -> None:
    page = await sandbox_client.get(
        "/connect/oauth2/authorize", params=authorize_params(oa, "snsapi_userinfo")
    )
    answer = await sandbox_client.post(
        "/_sandbox/oauth/consent", data={"ticket": consent_ticket(page.text), "decision": "deny"}
    )
    assert answer.status_code == 302
    assert answer.headers["location"] == CALLBACK + "?state=STATE123"


async def test_a_consent_page_answers_once_and_expires(
    sandbox: Sandbox, sandbox_client: httpx.AsyncClient, oa: AppCredentials
) -> None:
    params = authorize_params(oa, "snsapi_userinfo")
    ticket = consent_ticket(
        (await sandbox_client.get("/connect/oauth2/authorize", params=params)).text
    )
    assert (
        await sandbox_client.post(
            "/_sandbox/oauth/consent", data={"ticket": ticket, "decision": "allow"}
        )
    ).status_code == 302
    reused = await sandbox_client.post(
        "/_sandbox/oauth/consent", data={"ticket": ticket, "decision": "allow"}
    )
    assert reused.status_code == 400
    assert "expired" in reused.text
    late = consent_ticket(
        (await sandbox_client.get("/connect/oauth2/authorize", params=params)).text
    )
    sandbox.clock.advance(TICKET_LIFETIME.total_seconds())
    expired = await sandbox_client.post(
        "/_sandbox/oauth/consent", data={"ticket": late, "decision": "allow"}
    )
    assert expired.status_code == 400
    undecided = consent_ticket(
        (await sandbox_client.get("/connect/oauth2/authorize", params=params)).text
    )
    neither = await sandbox_client.post(
        "/_sandbox/oauth/consent", data={"ticket": undecided, "decision": "maybe"}
    )
    assert neither.status_code == 400
    assert "Allow or Deny" in neither.text
    empty = await sandbox_client.post("/_sandbox/oauth/consent", content=b"")
    assert empty.status_code == 400
    huge = await sandbox_client.post("/_sandbox/oauth/consent", content=b"ticket=" + b"x" * 9000)
    assert huge.status_code == 400


@pytest.mark.parametrize(
    ("change", "errcode", "text"),
    [
        ({"appid": ""}, "10012", "appid"),
        ({"redirect_uri": ""}, "10011", "redirect_uri"),
        ({"scope": ""}, "10010", "scope"),
        ({"state": ""}, "10013", "state"),
        ({"appid": "wx0000000000000000"}, "40013", "invalid appid"),
        ({"redirect_uri": "javascript:alert(1)"}, "10003", "redirect_uri"),
        ({"redirect_uri": "/relative"}, "10003", "redirect_uri"),
        ({"redirect_uri": "http://[::1/cb"}, "10003", "redirect_uri"),
        ({"scope": "snsapi_login"}, "10005", "scope"),
        ({"appid": "MINI"}, "10005", "scope的权限"),
        ({"response_type": "token"}, None, "response_type"),
        ({"state": "has-dash"}, None, "state"),
        ({"state": "a" * 129}, None, "state"),
    ],
)
async def test_authorize_errors_show_wechats_error_page(
    sandbox: Sandbox,
    sandbox_client: httpx.AsyncClient,
    oa: AppCredentials,
    mini: AppCredentials,
    change: dict[str, str],
    errcode: str | None,
    text: str,
) -> None:
    params = authorize_params(
        oa, **{k: mini.appid if v == "MINI" else v for k, v in change.items()}
    )
    response = await sandbox_client.get("/connect/oauth2/authorize", params=params)
    assert response.status_code == 400
    assert "Oops! Something went wrong" in response.text
    assert text in response.text
    if errcode is None:
        assert "errcode=" not in response.text
    else:
        assert f"errcode={errcode}" in response.text
    assert len(sandbox.identity.persons) == 0
    assert "set-cookie" not in response.headers


async def test_as_user_sets_the_person_and_goes_to_next(
    sandbox: Sandbox, sandbox_client: httpx.AsyncClient, oa: AppCredentials
) -> None:
    person = sandbox.identity.persons.create()
    by_openid = await sandbox_client.get(
        "/_sandbox/as-user",
        params={"openid": person.openid_for(oa.appid), "next": "/connect/oauth2/authorize?x=1"},
    )
    assert by_openid.status_code == 302
    assert by_openid.headers["location"] == "http://sandbox.test/connect/oauth2/authorize?x=1"
    assert by_openid.cookies[COOKIE] == person.unionid
    by_unionid = await sandbox_client.get("/_sandbox/as-user", params={"unionid": person.unionid})
    assert by_unionid.status_code == 200
    assert by_unionid.json() == person.view()
    assert by_unionid.cookies[COOKIE] == person.unionid
    sandbox_client.cookies.set(COOKIE, person.unionid)
    redirect = await sandbox_client.get("/connect/oauth2/authorize", params=authorize_params(oa))
    code = query_of(redirect.headers["location"])["code"][0]
    assert (await exchange(sandbox_client, oa, code))["openid"] == person.openid_for(oa.appid)


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({}, 400),
        ({"openid": "o1", "unionid": "o2"}, 400),
        ({"openid": "o-nobody"}, 404),
        ({"unionid": "o-nobody"}, 404),
        ({"unionid": "KNOWN", "next": "https://evil.example/"}, 400),
        ({"unionid": "KNOWN", "next": "//evil.example/"}, 400),
        ({"unionid": "KNOWN", "next": "/\\evil.example/"}, 400),
        ({"unionid": "KNOWN", "next": "evil.example"}, 400),
        ({"unionid": "KNOWN", "next": "/a b"}, 400),
        ({"unionid": "KNOWN", "next": "/\r\nSet-Cookie: x=1"}, 400),
    ],
)
async def test_as_user_refuses_unknown_people_and_open_redirects(
    sandbox: Sandbox, sandbox_client: httpx.AsyncClient, params: dict[str, str], status: int
) -> None:
    person = sandbox.identity.persons.create()
    real = {k: person.unionid if v == "KNOWN" else v for k, v in params.items()}
    response = await sandbox_client.get("/_sandbox/as-user", params=real)
    assert response.status_code == status
    assert "location" not in response.headers
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize(
    ("target", "inside"),
    [
        ("/", True),
        ("/_sandbox/log?x=1#y", True),
        ("//x", False),
        ("/\\x", False),
        ("http://x/", False),
        ("x", False),
        ("", False),
        ("/\tx", False),
    ],
)
def test_is_sandbox_path(target: str, inside: bool) -> None:
    assert is_sandbox_path(target) is inside


@pytest.fixture
async def mounted(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    """The sandbox mounted at /sandbox inside a host app, as ``paydesk serve`` does."""
    host = Starlette(routes=[Mount("/sandbox", app=sandbox.asgi())])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=host), base_url="http://pay.example"
    ) as client:
        yield client


async def test_mounted_pages_keep_the_prefix(
    sandbox: Sandbox, mounted: httpx.AsyncClient, oa: AppCredentials
) -> None:
    page = await mounted.get(
        "/sandbox/connect/oauth2/authorize", params=authorize_params(oa, "snsapi_userinfo")
    )
    assert page.status_code == 200
    assert 'action="http://pay.example/sandbox/_sandbox/oauth/consent"' in page.text
    assert "http://pay.example/sandbox/_sandbox/avatar/" in page.text
    assert "path=/sandbox;" in page.headers["set-cookie"].lower()
    answer = await mounted.post(
        "/sandbox/_sandbox/oauth/consent",
        data={"ticket": consent_ticket(page.text), "decision": "allow"},
    )
    assert answer.headers["location"].startswith(CALLBACK + "?code=")
    person = sandbox.identity.persons.all()[0]
    hop = await mounted.get(
        "/sandbox/_sandbox/as-user",
        params={"unionid": person.unionid, "next": "/_sandbox/credentials"},
    )
    assert hop.headers["location"] == "http://pay.example/sandbox/_sandbox/credentials"
