"""paydesk.protocol.oauth: the official-account OAuth authorize URL and its callback."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paydesk.protocol.errors import MalformedInput
from paydesk.protocol.oauth import (
    AUTHORIZE_PATH,
    AuthorizeRequest,
    authorize_url,
    callback_url,
    check_state,
    parse_authorize_query,
)

REDIRECT = "https://pay.example.com/cashier/oauth?order=o1&x=a b"


def test_the_url_follows_the_documented_order_exactly() -> None:
    # PROTOCOL.md §4.5: appid, redirect_uri (urlencoded), response_type=code, scope, state,
    # then #wechat_redirect.
    assert authorize_url(
        appid="wx520c15f417810387", redirect_uri=REDIRECT, scope="snsapi_base", state="ab12"
    ) == (
        "https://open.weixin.qq.com/connect/oauth2/authorize?appid=wx520c15f417810387"
        "&redirect_uri=https%3A%2F%2Fpay.example.com%2Fcashier%2Foauth%3Forder%3Do1%26x%3Da%20b"
        "&response_type=code&scope=snsapi_base&state=ab12#wechat_redirect"
    )


def test_another_host_for_the_sandbox() -> None:
    url = authorize_url(
        appid="wx1",
        redirect_uri=REDIRECT,
        scope="snsapi_userinfo",
        state="S",
        host="http://127.0.0.1:8000/sandbox/",
    )
    assert url.startswith(f"http://127.0.0.1:8000/sandbox{AUTHORIZE_PATH}?appid=wx1&")
    assert "&scope=snsapi_userinfo&" in url


@pytest.mark.parametrize("state", ["", "a" * 129, "a-b", "a b", "支付", "a=b", "abc\n"])
def test_state_must_be_1_to_128_alphanumerics(state: str) -> None:
    with pytest.raises(MalformedInput, match=r"1-128 characters of \[a-zA-Z0-9\]") as caught:
        authorize_url(appid="wx1", redirect_uri=REDIRECT, scope="snsapi_base", state=state)
    assert caught.value.field == "state"


def test_the_longest_state_is_accepted() -> None:
    assert check_state("Z9" * 64) == "Z9" * 64


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"appid": ""}, "appid"),
        ({"redirect_uri": ""}, "redirect_uri"),
        ({"scope": "snsapi_login"}, "scope"),
    ],
)
def test_empty_or_unknown_parameters_are_refused(changes: dict[str, str], field: str) -> None:
    arguments = {
        "appid": "wx1",
        "redirect_uri": REDIRECT,
        "scope": "snsapi_base",
        "state": "S",
        **changes,
    }
    with pytest.raises(MalformedInput) as caught:
        authorize_url(**arguments)  # type: ignore[arg-type]
    assert caught.value.field == field


# --------------------------------------------------------------------------- the sandbox side


def test_the_sandbox_reads_back_what_we_build() -> None:
    url = authorize_url(appid="wx1", redirect_uri=REDIRECT, scope="snsapi_userinfo", state="S1")
    query = urlsplit(url).query
    assert parse_authorize_query(query) == AuthorizeRequest(
        "wx1", REDIRECT, "snsapi_userinfo", "S1"
    )
    assert parse_authorize_query(dict(parse_qsl(query))) == AuthorizeRequest(
        "wx1", REDIRECT, "snsapi_userinfo", "S1"
    )


GOOD = {
    "appid": "wx1",
    "redirect_uri": REDIRECT,
    "response_type": "code",
    "scope": "snsapi_base",
    "state": "S",
}


@pytest.mark.parametrize("field", ["appid", "redirect_uri", "scope", "state"])
def test_a_missing_parameter_is_named_for_the_sandbox_error_code(field: str) -> None:
    with pytest.raises(MalformedInput, match=f"{field} is missing") as caught:
        parse_authorize_query({k: v for k, v in GOOD.items() if k != field})
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"response_type": "token"}, "response_type"),
        ({"scope": "snsapi_login"}, "scope"),
        ({"state": "not-valid"}, "state"),
        ({"redirect_uri": "/relative/path"}, "redirect_uri"),
        ({"redirect_uri": "javascript:alert(1)"}, "redirect_uri"),
        ({"redirect_uri": "https:///no-host"}, "redirect_uri"),
    ],
)
def test_bad_parameters_are_named(changes: dict[str, str], field: str) -> None:
    with pytest.raises(MalformedInput) as caught:
        parse_authorize_query({**GOOD, **changes})
    assert caught.value.field == field


def test_a_repeated_parameter_is_refused() -> None:
    with pytest.raises(MalformedInput, match="repeats a parameter"):
        parse_authorize_query(
            "appid=wx1&appid=wx2&redirect_uri=https%3A%2F%2Fa&response_type=code&scope=snsapi_base&state=S"
        )


def test_callback_urls() -> None:
    assert (
        callback_url("https://a.example/cb", code="CODE", state="S")
        == "https://a.example/cb?code=CODE&state=S"
    )
    assert (
        callback_url("https://a.example/cb?x=1#top", code="C", state="S")
        == "https://a.example/cb?x=1&code=C&state=S#top"
    )
    assert (
        callback_url("https://a.example/cb", code=None, state="S") == "https://a.example/cb?state=S"
    )


@settings(max_examples=100)
@given(
    path=st.text(max_size=40),
    state=st.from_regex(r"[a-zA-Z0-9]{1,128}", fullmatch=True),
    scope=st.sampled_from(["snsapi_base", "snsapi_userinfo"]),
)
def test_any_redirect_uri_survives_the_round_trip(path: str, state: str, scope: str) -> None:
    redirect = "https://pay.example.com/" + path
    url = authorize_url(appid="wx1", redirect_uri=redirect, scope=scope, state=state)  # type: ignore[arg-type]
    assert url.endswith("#wechat_redirect")
    parsed = parse_authorize_query(urlsplit(url).query)
    assert parsed == AuthorizeRequest("wx1", redirect, scope, state)  # type: ignore[arg-type]


def test_text_that_cannot_be_utf8_is_refused() -> None:
    with pytest.raises(MalformedInput, match="redirect_uri is not valid UTF-8") as caught:
        authorize_url(appid="wx1", redirect_uri="https://a/\udc80", scope="snsapi_base", state="S")
    assert caught.value.field == "redirect_uri"


def test_an_unparseable_redirect_uri_is_malformed_input_not_a_crash() -> None:
    query = (
        "appid=wx1&redirect_uri=http%3A%2F%2F%5B%3A%3A1%2F&response_type=code"
        "&scope=snsapi_base&state=S"
    )
    with pytest.raises(MalformedInput) as info:
        parse_authorize_query(query)
    assert info.value.field == "redirect_uri"
