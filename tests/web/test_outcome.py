"""The result page's wording hint, and links past their grace period."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from paydesk.domain.cashier.links import RESULT_GRACE
from paydesk.domain.clock import FixedClock
from tests.stack import StackFactory

pytestmark = pytest.mark.backends


async def test_only_known_hints_change_the_wording(make_stack: StackFactory) -> None:
    stack = await make_stack()
    order = await stack.create_order()
    link = await stack.api.post(
        f"/api/v1/orders/{order['id']}/cashier", headers=stack.merchant_headers
    )
    url = link.json()["url"]
    cancelled = await stack.api.get(f"{url}/result?r=cancel")
    assert "您已取消付款" in cancelled.text
    failed = await stack.api.get(f"{url}/result?r=fail")
    assert "付款没有完成" in failed.text
    odd = await stack.api.get(f"{url}/result?r=<script>")
    assert "正在确认支付结果" in odd.text
    assert "<script>" not in odd.text


async def test_after_the_grace_period_the_link_is_gone_everywhere(
    make_stack: StackFactory,
) -> None:
    clock = FixedClock(datetime.now(UTC))
    stack = await make_stack(clock=clock)
    order = await stack.create_order(expires_in=60)
    link = await stack.api.post(
        f"/api/v1/orders/{order['id']}/cashier", headers=stack.merchant_headers
    )
    url = link.json()["url"]
    clock.advance(61)
    result = await stack.api.get(f"{url}/result")
    assert result.status_code == 200  # within the grace period: the outcome is shown
    clock.advance(RESULT_GRACE.total_seconds())
    assert (await stack.api.get(f"{url}/result")).status_code == 404
    assert (await stack.api.get(f"{url}/status")).status_code == 404
    assert (await stack.api.get(url)).status_code == 404
