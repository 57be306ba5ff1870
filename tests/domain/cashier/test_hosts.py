"""Sandbox mode: set explicitly, or WeChat's base URL is our own /sandbox mount."""

from __future__ import annotations

import pytest

from paydesk.client import Endpoints
from paydesk.domain.cashier.hosts import authorize_host, is_own_sandbox, sandbox_base
from tests.stack import StackFactory


@pytest.mark.parametrize(
    ("base", "public", "own"),
    [
        ("http://127.0.0.1:8000/sandbox", "http://127.0.0.1:8000", True),
        ("http://127.0.0.1:8000/sandbox/", "http://127.0.0.1:8000/", True),
        ("https://pay.example.com/app/sandbox", "https://pay.example.com/app", True),
        ("http://127.0.0.1:8000/sandboxes", "http://127.0.0.1:8000", False),
        ("http://127.0.0.1:8765", "http://127.0.0.1:8000", False),
        ("https://api.weixin.qq.com", "https://pay.example.com", False),
    ],
)
def test_is_own_sandbox(base: str, public: str, own: bool) -> None:
    assert is_own_sandbox(base, public) is own


async def test_hosts_follow_the_mode(
    make_stack: StackFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = await make_stack()
    assert sandbox_base(real.services) is None
    assert authorize_host(real.services) == "https://open.weixin.qq.com"
    sandboxed = await make_stack(settings={"sandbox": True})
    assert sandbox_base(sandboxed.services) == "http://sandbox.test"
    assert authorize_host(sandboxed.services) == "http://sandbox.test"
    mounted = await make_stack()  # paydesk serve: WeChat is our own /sandbox mount
    own = Endpoints.sandbox("http://paydesk.test/sandbox")
    monkeypatch.setattr(mounted.services.wechat, "endpoints", own)
    assert sandbox_base(mounted.services) == "http://paydesk.test/sandbox"
    assert authorize_host(mounted.services) == "http://paydesk.test/sandbox"
