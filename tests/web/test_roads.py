"""Road details that the end-to-end tests in tests/api/test_cashier.py do not pin down."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from paydesk.web import roads
from tests.stack import StackFactory

WECHAT_UA = "Mozilla/5.0 (iPhone) Mobile/15E148 MicroMessenger/8.0.49 NetType/WIFI"

pytestmark = pytest.mark.backends


async def test_behind_a_path_prefix_the_cookie_and_callback_follow_the_public_url(
    make_stack: StackFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = await make_stack(settings={"sandbox": True})
    prefixed = stack.services.settings.model_copy(
        update={"public_url": "https://paydesk.test/shop/"}
    )
    monkeypatch.setattr(stack.services, "settings", prefixed)
    order = await stack.create_order()
    link = await stack.api.post(
        f"/api/v1/orders/{order['id']}/cashier", headers=stack.merchant_headers
    )
    url = link.json()["url"]
    assert url.startswith("https://paydesk.test/shop/pay/")
    token = url.rsplit("/", 1)[1]
    first = await stack.api.get(f"/pay/{token}", headers={"User-Agent": WECHAT_UA})
    assert first.status_code == 302
    cookie = first.headers["set-cookie"]
    assert "Path=/shop/pay" in cookie
    assert "Secure" in cookie
    redirect_uri = parse_qs(urlsplit(first.headers["location"]).query)["redirect_uri"][0]
    assert unquote(redirect_uri) == f"{url}/oauth?try=1"


@pytest.mark.parametrize(
    ("raw", "attempt"), [(None, 1), ("2", 2), ("x", 1), ("-1", 1), ("999", 1), ("", 1)]
)
def test_the_attempt_counter_is_read_defensively(raw: str | None, attempt: int) -> None:
    assert roads._attempt(raw) == attempt
