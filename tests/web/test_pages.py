"""Templates, hashed assets and the headers every page carries."""

from __future__ import annotations

import hashlib
from importlib import resources

import pytest

from paydesk.web.i18n import Translator
from paydesk.web.pages import ASSET_TYPES, asset, asset_path, origin_of, page_headers, render


@pytest.mark.parametrize("name", sorted(ASSET_TYPES))
def test_assets_are_versioned_by_their_content(name: str) -> None:
    body = resources.files("paydesk.web").joinpath("static", name).read_bytes()
    found = asset(name)
    assert found.body == body
    assert found.version == hashlib.sha256(body).hexdigest()[:12]
    assert asset_path(name) == f"/pay/static/{name}?v={found.version}"


def test_only_listed_assets_exist() -> None:
    with pytest.raises(KeyError):
        asset("../templates/base.html")


def test_headers_allow_only_our_scripts_or_the_sandbox_bridge() -> None:
    plain = page_headers()
    assert "script-src 'self';" in plain["Content-Security-Policy"]
    assert plain["Cache-Control"] == "no-store"
    assert plain["X-Frame-Options"] == "DENY"
    sandbox = page_headers(sandbox="http://127.0.0.1:8000/sandbox", referrer="origin")
    assert "script-src 'self' http://127.0.0.1:8000;" in sandbox["Content-Security-Policy"]
    assert "connect-src 'self' http://127.0.0.1:8000;" in sandbox["Content-Security-Policy"]
    assert sandbox["Referrer-Policy"] == "origin"


def test_origin_of() -> None:
    assert origin_of("https://pay.example.com:8443/x/y?z") == "https://pay.example.com:8443"


def test_a_message_page_renders_in_both_languages_and_escapes() -> None:
    for lang, heading in (("zh", "链接无效"), ("en", "This link is not valid")):
        html = render(
            "message.html",
            t=Translator(lang),
            root="https://pay.example.com/",
            page="message",
            phase="message",
            merchant="<b>Shop</b>",
            sandbox=None,
            heading="invalid_title",
            body="invalid_body",
            badge="badge-muted",
            retry_url=None,
        )
        assert heading in html
        assert "&lt;b&gt;Shop&lt;/b&gt;" in html
        assert 'href="https://pay.example.com/pay/static/cashier.css?v=' in html
