"""``POST /api/v1/refunds/{id}/apply-abnormal-refund``: an ABNORMAL refund (the payer's card was
cancelled) paid out to another card of the payer or to the merchant's account, through the
sandbox's WeChat; the card number and the name are stored nowhere; every refusal is precise."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import MetaData, select, update

from paydesk.db.models import OrderEvent, OutboxEvent, Refund
from tests.domain.refunds.flows import (
    ask_refund,
    fault,
    impatient_wechat,
    order_json,
    paid_order,
    refund_json,
    settle_at_wechat,
    wechat_refunds,
)
from tests.stack import CERTIFICATE_MCHID, PUBLIC_KEY_MCHID, Stack, StackFactory

pytestmark = pytest.mark.backends

CARD = "6222020200112345678"
NAME = "张三丰"
TO_PAYER = {
    "type": "USER_BANK_CARD",
    "bank_type": "ICBC_DEBIT",
    "bank_account": CARD,
    "real_name": NAME,
}
TO_MERCHANT = {"type": "MERCHANT_BANK_CARD"}


async def abnormal_refund(stack: Stack, number: str, *, mchid: str = PUBLIC_KEY_MCHID) -> Any:
    """A refund of 60 of a paid order of 100 that WeChat reported ABNORMAL."""
    order = await paid_order(stack, amount=100, mchid=mchid)
    armed = await stack.sandbox_client.post(
        "/_sandbox/refund-outcome", json={"out_refund_no": number, "status": "ABNORMAL"}
    )
    assert armed.status_code == 200, armed.text
    refund = (await ask_refund(stack, order["id"], 60, out_refund_no=number)).json()
    await settle_at_wechat(stack)  # REFUND.ABNORMAL is notified
    assert (await refund_json(stack, refund["id"]))["state"] == "ABNORMAL"
    return refund


async def apply(stack: Stack, refund_id: str, body: dict[str, Any]) -> Any:
    return await stack.api.post(
        f"/api/v1/refunds/{refund_id}/apply-abnormal-refund",
        json=body,
        headers=stack.merchant_headers,
    )


async def every_stored_text(stack: Stack) -> str:
    """Every value of every row of every table, as one string."""
    tables = MetaData()
    async with stack.services.engine.connect() as connection:
        await connection.run_sync(tables.reflect)
        texts = []
        for table in tables.sorted_tables:
            rows = (await connection.execute(select(table))).all()
            texts.extend(repr(tuple(row)) for row in rows)
    return "\n".join(texts)


@pytest.mark.parametrize(
    ("mchid", "body"),
    [(PUBLIC_KEY_MCHID, TO_PAYER), (CERTIFICATE_MCHID, TO_PAYER), (PUBLIC_KEY_MCHID, TO_MERCHANT)],
    ids=["payer-card-public-key", "payer-card-certificate", "merchant-account"],
)
async def test_an_abnormal_refund_is_paid_out_and_then_succeeds(
    stack: Stack, mchid: str, body: dict[str, Any]
) -> None:
    refund = await abnormal_refund(stack, f"R-ABN-{mchid}-{body['type']}", mchid=mchid)

    answer = await apply(stack, refund["id"], body)

    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "PROCESSING"
    await settle_at_wechat(stack)  # REFUND.SUCCESS is notified
    assert (await refund_json(stack, refund["id"]))["state"] == "SUCCESS"
    assert (await order_json(stack, refund["order_id"]))["state"] == "PARTIALLY_REFUNDED"
    async with stack.services.db() as session:
        moves = await session.scalars(
            select(OrderEvent).where(OrderEvent.refund_id == refund["id"]).order_by(OrderEvent.id)
        )
        # The refund's own moves (the order's PAID → PARTIALLY_REFUNDED carries its id too).
        history = [
            (e.from_state, e.to_state, e.cause.split(".")[0])
            for e in moves
            if e.to_state not in ("PARTIALLY_REFUNDED", "REFUNDED")
        ]
        announced = sorted(
            (
                await session.scalars(
                    select(OutboxEvent.type).where(OutboxEvent.refund_id == refund["id"])
                )
            ).all()
        )
    assert history == [
        (None, "PENDING", "api"),
        ("PENDING", "PROCESSING", "api"),
        ("PROCESSING", "ABNORMAL", "notify"),
        ("ABNORMAL", "PROCESSING", "api"),  # api.abnormal_refund
        ("PROCESSING", "SUCCESS", "notify"),
    ]
    assert announced == ["refund.failed", "refund.succeeded"]
    (at_wechat,) = await wechat_refunds(
        stack, (await order_json(stack, refund["order_id"]))["out_trade_no"]
    )
    assert at_wechat["status"] == "SUCCESS"
    stored = await every_stored_text(stack)
    assert CARD not in stored
    assert NAME not in stored


async def test_only_an_abnormal_refund_can_be_paid_out(stack: Stack) -> None:
    order = await paid_order(stack, amount=100)
    processing = (await ask_refund(stack, order["id"], 10)).json()

    refused = await apply(stack, processing["id"], TO_MERCHANT)

    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "refund_not_abnormal"
    assert refused.json()["error"]["state"] == "PROCESSING"
    assert (await apply(stack, "rfd_nothing", TO_MERCHANT)).status_code == 404


async def test_a_v2_merchant_is_told_to_use_the_merchant_platform(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack(api_versions={CERTIFICATE_MCHID: "v2"})
    refund = await abnormal_refund(stack, "R-ABN-V2", mchid=CERTIFICATE_MCHID)

    refused = await apply(stack, refund["id"], TO_MERCHANT)

    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "abnormal_refund_not_supported"
    assert "pay.weixin.qq.com" in refused.json()["error"]["message"]
    assert (await refund_json(stack, refund["id"]))["state"] == "ABNORMAL"


async def test_a_refund_whose_wechat_id_is_unknown_waits_for_the_sweep(stack: Stack) -> None:
    refund = await abnormal_refund(stack, "R-ABN-NOID")
    async with stack.services.db.begin() as session:  # as if no report had named it
        await session.execute(
            update(Refund).where(Refund.id == refund["id"]).values(refund_id=None)
        )

    refused = await apply(stack, refund["id"], TO_MERCHANT)

    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "refund_id_unknown"
    assert "R-ABN-NOID" in refused.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "USER_BANK_CARD"}, "body"),
        ({**TO_MERCHANT, "bank_type": "ICBC_DEBIT"}, "body"),
        ({**TO_PAYER, "bank_account": "6222-0202"}, "bank_account"),
        ({**TO_PAYER, "bank_account": "６２２２０２０２００１１２３４５"}, "bank_account"),
        ({**TO_PAYER, "bank_type": "MOON_DEBIT"}, "bank_type"),
        ({**TO_PAYER, "real_name": ""}, "real_name"),
        ({"type": "CASH"}, "type"),
        ({**TO_MERCHANT, "amount": 1}, "amount"),
    ],
)
async def test_a_bad_payout_is_a_400_naming_the_field_and_echoing_nothing(
    stack: Stack, body: dict[str, Any], field: str
) -> None:
    answer = await apply(stack, "rfd_any", body)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_request"
    assert field in {f["field"] for f in error["fields"]}
    assert CARD not in answer.text
    assert NAME not in answer.text


async def test_a_lost_answer_is_settled_from_wechats_word(stack: Stack) -> None:
    refund = await abnormal_refund(stack, "R-ABN-LOST")
    await fault(stack, kind="timeout", path_regex="apply-abnormal-refund", times=1, seconds=2)

    async with impatient_wechat(stack, 0.5):
        answer = await apply(stack, refund["id"], TO_PAYER)

    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "PROCESSING"  # WeChat took it: its query says so


async def test_a_refusal_that_leaves_it_abnormal_is_a_502_and_changes_nothing(
    stack: Stack,
) -> None:
    refund = await abnormal_refund(stack, "R-ABN-5XX")
    await fault(stack, kind="5xx", path_regex="apply-abnormal-refund", times=9)

    answer = await apply(stack, refund["id"], TO_PAYER)

    assert answer.status_code == 502, answer.text
    assert answer.json()["error"]["code"].startswith("wechat_")
    assert (await refund_json(stack, refund["id"]))["state"] == "ABNORMAL"
