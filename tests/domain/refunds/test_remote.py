"""The refund call to WeChat: which failures are final and which mean "later, same number"."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from paydesk import client
from paydesk.db.enums import ApiVersion
from paydesk.domain.context import Services
from paydesk.domain.refunds import remote
from paydesk.domain.refunds.remote import Answered, NoAnswer, RefundAsk, Refused, sort_error
from paydesk.protocol.v2.models import RefundQueryResponse


@pytest.mark.parametrize(
    ("error", "verdict"),
    [
        (client.InvalidRequest("bad", status=400, code="PARAM_ERROR"), Refused),
        (client.NotFound("no order", status=404, code="RESOURCE_NOT_EXISTS"), Refused),
        (client.Refused("closed account", status=403, code="USER_ACCOUNT_ABNORMAL"), Refused),
        (client.Refused("too old", code="TRADE_OVERDUE"), Refused),
        # the merchant's balance is short: top up, then the same number goes through
        (client.Refused("余额不足", status=403, code="NOT_ENOUGH"), NoAnswer),
        (client.Refused("余额不足", code="NOTENOUGH"), NoAnswer),
        (client.AuthenticationFailed("sign error", status=401, code="SIGN_ERROR"), NoAnswer),
        (client.RateLimited("slow down", status=429, code="FREQUENCY_LIMITED"), NoAnswer),
        (client.UpstreamUnavailable("busy", status=500, code="SYSTEM_ERROR"), NoAnswer),
        (client.UpstreamUnavailable("retry", code="BIZERR_NEED_RETRY"), NoAnswer),
        (client.OutcomeUnknown("no answer"), NoAnswer),
        (client.UnexpectedResponse("odd body"), NoAnswer),
        (client.TransportFailed("unreachable"), NoAnswer),
        (client.ResponseNotVerified("forged?"), NoAnswer),
    ],
)
def test_failures_are_sorted_into_final_and_later(error: client.WeChatError, verdict: type) -> None:
    sorted_ = sort_error(error)
    assert type(sorted_) is verdict
    assert sorted_.code == (error.code or type(error).__name__)
    assert sorted_.message == error.message


@dataclass
class _FakeV2:
    """A v2 client whose refund query answers what it is given."""

    reply: RefundQueryResponse
    asked: list[dict[str, Any]] = field(default_factory=list)

    async def refund_query(self, appid: str, **numbers: Any) -> RefundQueryResponse:
        self.asked.append({"appid": appid, **numbers})
        return self.reply


@dataclass
class _FakeWeChat:
    v2: _FakeV2

    def pay_v2(self, mchid: str) -> _FakeV2:
        return self.v2


@dataclass
class _FakeServices:
    wechat: _FakeWeChat


ASK = RefundAsk(
    mchid="1900000002",
    api_version=ApiVersion.V2,
    appid="wx5a0d5a0d00000001",
    out_trade_no="PD0001",
    out_refund_no="R2",
    amount=3,
    total=9,
    reason=None,
    notify_url="https://pay.example.com/api/v1/notify/wechatpay/v2/1900000002",
)


def _services(fields: dict[str, str]) -> tuple[Services, _FakeV2]:
    v2 = _FakeV2(RefundQueryResponse.from_fields(fields))
    return cast("Services", _FakeServices(_FakeWeChat(v2))), v2


def _listing(status: str, number: str = "R2") -> dict[str, str]:
    return {
        "return_code": "SUCCESS",
        "result_code": "SUCCESS",
        "out_trade_no": "PD0001",
        "total_fee": "9",
        "refund_count": "2",
        "out_refund_no_0": "R1",
        "refund_id_0": "5001",
        "refund_fee_0": "6",
        "refund_status_0": "SUCCESS",
        "out_refund_no_1": number,
        "refund_id_1": "5002",
        "refund_fee_1": "3",
        "refund_status_1": status,
    }


async def test_a_v2_query_picks_our_refund_out_of_the_orders_list() -> None:
    services, v2 = _services(_listing("REFUNDCLOSE"))
    answer = await remote.query(services, ASK)
    assert isinstance(answer, Answered)
    report = answer.report
    assert (report.out_refund_no, report.status, report.refund, report.total) == (
        "R2",
        "CLOSED",
        3,
        9,
    )
    assert (report.mchid, report.out_trade_no) == ("1900000002", "PD0001")
    assert v2.asked == [{"appid": "wx5a0d5a0d00000001", "out_refund_no": "R2"}]


async def test_a_v2_query_without_our_refund_or_with_an_odd_status_is_no_answer() -> None:
    services, _ = _services(_listing("SUCCESS", number="R9"))
    assert await remote.query(services, ASK) == NoAnswer(
        "REFUNDNOTEXIST", "the refund query did not list this refund"
    )
    services, _ = _services(_listing("WHO_KNOWS"))
    odd = await remote.query(services, ASK)
    assert isinstance(odd, NoAnswer)
    assert odd.code == "MALFORMED"
