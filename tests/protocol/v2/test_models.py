"""paydesk.protocol.v2.models: typed v2 API replies and reply verification."""

from __future__ import annotations

import pytest

from paydesk.protocol.errors import MalformedInput, SignatureMismatch, UnsupportedSignatureType
from paydesk.protocol.v2.codec import signed_xml
from paydesk.protocol.v2.models import (
    CloseOrderResponse,
    OrderQueryResponse,
    RefundQueryItem,
    RefundQueryResponse,
    RefundResponse,
    UnifiedOrderResponse,
    V2Response,
    parse_v2_response,
)

# The APIv2 key of the official signing example (PROTOCOL.md §2.1), reused as our merchant's.
TEST_KEY = "192006250b4c09247ec02edce69f6a2d"

OK = {"return_code": "SUCCESS", "return_msg": "OK", "result_code": "SUCCESS"}
# The reply WeChat sends for a bad signature (PROTOCOL.md §2.2, observed by a 3P probe).
SIGN_ERROR = (
    "<xml><return_code><![CDATA[FAIL]]></return_code>"
    "<return_msg><![CDATA[签名错误]]></return_msg></xml>"
).encode()


def test_a_successful_reply_is_verified() -> None:
    body = signed_xml(
        {**OK, "appid": "wx1", "nonce_str": "n", "prepay_id": "wx2"}, key=TEST_KEY, sign_type="MD5"
    )
    assert parse_v2_response(body.encode(), key=TEST_KEY, sign_type="MD5")["prepay_id"] == "wx2"
    tampered = body.replace("wx2", "wx3")
    with pytest.raises(SignatureMismatch):
        parse_v2_response(tampered, key=TEST_KEY, sign_type="MD5")


def test_a_business_failure_is_still_verified() -> None:
    fields = {
        "return_code": "SUCCESS",
        "result_code": "FAIL",
        "err_code": "ORDERPAID",
        "err_code_des": "订单已支付",
    }
    body = signed_xml(fields, key=TEST_KEY, sign_type="HMAC-SHA256")
    reply = CloseOrderResponse.from_fields(
        parse_v2_response(body, key=TEST_KEY, sign_type="HMAC-SHA256")
    )
    assert (reply.ok, reply.err_code, reply.err_code_des) == (False, "ORDERPAID", "订单已支付")
    with pytest.raises(SignatureMismatch, match="sign is missing"):
        parse_v2_response(
            signed_xml(fields, key=TEST_KEY, sign_type="MD5")
            .replace("<sign>", "<nosign>")
            .replace("</sign>", "</nosign>"),
            key=TEST_KEY,
            sign_type="MD5",
        )


def test_an_unsigned_fail_reply_is_returned_as_is() -> None:
    fields = parse_v2_response(SIGN_ERROR, key=TEST_KEY, sign_type="MD5")
    assert fields == {"return_code": "FAIL", "return_msg": "签名错误"}
    reply = V2Response.from_fields(fields)
    assert (reply.ok, reply.return_msg, reply.result_code, reply.err_code) == (
        False,
        "签名错误",
        None,
        None,
    )


def test_a_reply_without_return_code_is_malformed() -> None:
    with pytest.raises(MalformedInput, match="return_code is missing"):
        parse_v2_response(
            b"<xml><result_code>SUCCESS</result_code></xml>", key=TEST_KEY, sign_type="MD5"
        )


def test_a_sign_type_in_the_reply_must_match_the_merchant() -> None:
    body = signed_xml({**OK, "sign_type": "MD5"}, key=TEST_KEY, sign_type="MD5")
    with pytest.raises(UnsupportedSignatureType):
        parse_v2_response(body, key=TEST_KEY, sign_type="HMAC-SHA256")


def test_unifiedorder() -> None:
    reply = UnifiedOrderResponse.from_fields(
        {
            **OK,
            "trade_type": "NATIVE",
            "prepay_id": "wx2",
            "code_url": "weixin://wxpay/bizpayurl?pr=x",
        }
    )
    assert reply.ok
    assert (reply.trade_type, reply.prepay_id, reply.code_url, reply.mweb_url) == (
        "NATIVE",
        "wx2",
        "weixin://wxpay/bizpayurl?pr=x",
        None,
    )
    assert reply.raw["return_msg"] == "OK"
    with pytest.raises(MalformedInput, match="prepay_id is missing"):
        UnifiedOrderResponse.from_fields(OK)
    failed = UnifiedOrderResponse.from_fields(
        {"return_code": "SUCCESS", "result_code": "FAIL", "err_code": "ORDERPAID"}
    )
    assert (failed.ok, failed.prepay_id, failed.err_code) == (False, None, "ORDERPAID")


def test_orderquery() -> None:
    reply = OrderQueryResponse.from_fields(
        {
            **OK,
            "trade_state": "SUCCESS",
            "trade_state_desc": "支付成功",
            "out_trade_no": "o1",
            "transaction_id": "t1",
            "openid": "u1",
            "trade_type": "JSAPI",
            "bank_type": "CFT",
            "total_fee": "100",
            "cash_fee": "90",
            "time_end": "20140903131540",
            "attach": "a",
        }
    )
    assert (reply.trade_state, reply.trade_state_desc) == ("SUCCESS", "支付成功")
    assert (reply.out_trade_no, reply.transaction_id, reply.openid) == ("o1", "t1", "u1")
    assert (reply.trade_type, reply.bank_type, reply.time_end, reply.attach) == (
        "JSAPI",
        "CFT",
        "20140903131540",
        "a",
    )
    assert (reply.total_fee, reply.cash_fee) == (100, 90)
    unpaid = OrderQueryResponse.from_fields({**OK, "trade_state": "NOTPAY", "out_trade_no": "o1"})
    assert (unpaid.transaction_id, unpaid.total_fee) == (None, None)
    missing = OrderQueryResponse.from_fields(
        {"return_code": "SUCCESS", "result_code": "FAIL", "err_code": "ORDERNOTEXIST"}
    )
    assert (missing.ok, missing.trade_state, missing.err_code) == (False, None, "ORDERNOTEXIST")
    with pytest.raises(MalformedInput, match="trade_state is missing"):
        OrderQueryResponse.from_fields(OK)
    with pytest.raises(MalformedInput, match="not a whole number of fen"):
        OrderQueryResponse.from_fields({**OK, "trade_state": "SUCCESS", "total_fee": "1.00"})


def test_closeorder() -> None:
    reply = CloseOrderResponse.from_fields({**OK, "result_msg": "OK"})
    assert (reply.ok, reply.result_msg) == (True, "OK")


def test_refund() -> None:
    reply = RefundResponse.from_fields(
        {
            **OK,
            "transaction_id": "t1",
            "out_trade_no": "o1",
            "out_refund_no": "r1",
            "refund_id": "50000",
            "refund_fee": "30",
            "total_fee": "100",
            "cash_refund_fee": "30",
        }
    )
    assert (reply.transaction_id, reply.out_trade_no, reply.out_refund_no, reply.refund_id) == (
        "t1",
        "o1",
        "r1",
        "50000",
    )
    assert (reply.refund_fee, reply.total_fee, reply.cash_refund_fee) == (30, 100, 30)
    with pytest.raises(MalformedInput, match="refund_id is missing"):
        RefundResponse.from_fields({**OK, "out_refund_no": "r1"})
    failed = RefundResponse.from_fields(
        {"return_code": "SUCCESS", "result_code": "FAIL", "err_code": "NOTENOUGH"}
    )
    assert (failed.ok, failed.refund_id, failed.err_code) == (False, None, "NOTENOUGH")


def test_refundquery_unrolls_indexed_fields() -> None:
    reply = RefundQueryResponse.from_fields(
        {
            **OK,
            "transaction_id": "t1",
            "out_trade_no": "o1",
            "total_fee": "100",
            "refund_count": "2",
            "out_refund_no_0": "r1",
            "refund_id_0": "5001",
            "refund_fee_0": "30",
            "refund_status_0": "SUCCESS",
            "refund_recv_accout_0": "支付用户的零钱",
            "refund_success_time_0": "2016-07-25 15:26:26",
            "out_refund_no_1": "r2",
            "refund_id_1": "5002",
            "refund_fee_1": "20",
            "refund_status_1": "PROCESSING",
        }
    )
    assert (reply.transaction_id, reply.out_trade_no, reply.total_fee) == ("t1", "o1", 100)
    assert reply.refunds == (
        RefundQueryItem(
            out_refund_no="r1",
            refund_id="5001",
            refund_fee=30,
            refund_status="SUCCESS",
            refund_recv_accout="支付用户的零钱",
            refund_success_time="2016-07-25 15:26:26",
        ),
        RefundQueryItem(
            out_refund_no="r2",
            refund_id="5002",
            refund_fee=20,
            refund_status="PROCESSING",
            refund_recv_accout=None,
            refund_success_time=None,
        ),
    )
    assert (
        RefundQueryResponse.from_fields(
            {"return_code": "SUCCESS", "result_code": "FAIL", "err_code": "REFUNDNOTEXIST"}
        ).refunds
        == ()
    )
    with pytest.raises(MalformedInput, match="refund_fee_1 is missing"):
        RefundQueryResponse.from_fields(
            {
                **OK,
                "refund_count": "2",
                "out_refund_no_0": "r1",
                "refund_id_0": "5001",
                "refund_fee_0": "30",
                "refund_status_0": "SUCCESS",
                "out_refund_no_1": "r2",
                "refund_id_1": "5002",
                "refund_status_1": "SUCCESS",
            }
        )
