"""The business errors of the order book, with their v3 and v2 spellings.

The order book raises :class:`Refusal`; the v3 routes answer it as ``{"code","message"}`` with
its HTTP status, the v2 routes as ``result_code`` FAIL with ``err_code`` / ``err_code_des``.
Codes and statuses come from shared/wechat/vectors/v3_error_codes.json; where that file has
no status (``ORDER_PAID``) or no code, the choice is written next to the factory.

>>> refusal = order_closed()
>>> refusal.code, refusal.status, refusal.v2_code
('ORDER_CLOSED', 400, 'ORDERCLOSED')
"""

from __future__ import annotations

__all__ = [
    "Refusal",
    "amount_mismatch",
    "appid_not_bound",
    "decrypt_failed",
    "not_enough",
    "order_closed",
    "order_not_exist",
    "order_paid",
    "out_trade_no_used",
    "param_error",
    "platform_serial_error",
    "reentry_mismatch",
    "refund_not_abnormal",
    "refund_not_exist",
    "refund_order_not_exist",
]

# Request-ID suffixes WeChat appends for some failures (PROTOCOL.md §1.9).
_PLATFORM_ERRORS = {"ORDER_NOT_EXIST": 268512771, "ORDER_PAID": 268449538, "SIGN_ERROR": 268443699}


class Refusal(Exception):
    """WeChat refuses the request: ``code`` (v3), ``status`` (v3 HTTP), ``v2_code``, message."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int = 400,
        v2_code: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.v2_code = v2_code or code
        self.field = field
        #: where ``field`` was found: ``body``, ``query``, ``url`` or ``header``
        self.location = "body"
        #: a complete ``detail`` object, when the error needs more than a field
        self.detail: dict[str, object] | None = None
        #: what the merchant's page sees, for refusals of the simulated payer
        self.err_msg: str | None = None

    @property
    def platform_error(self) -> int | None:
        """The number WeChat puts at the end of ``Request-ID`` for this error, if known."""
        return _PLATFORM_ERRORS.get(self.code)

    def v3_body(self) -> dict[str, object]:
        """The v3 error body; ``detail.field`` as a JSON pointer when a field is to blame."""
        body: dict[str, object] = {"code": self.code, "message": self.message}
        if self.detail is not None:
            body["detail"] = self.detail
        elif self.field is not None:
            body["detail"] = {"field": self.field, "location": self.location, "issue": self.message}
        return body


def param_error(field: str, issue: str) -> Refusal:
    """400 PARAM_ERROR naming the field as a JSON pointer (``/amount/total``)."""
    return Refusal("PARAM_ERROR", f"参数错误: {issue}", field=field)


def appid_not_bound() -> Refusal:
    """400 APPID_MCHID_NOT_MATCH: the appid is unknown or not bound to the merchant."""
    return Refusal("APPID_MCHID_NOT_MATCH", "AppID和mch_id不匹配")


def order_closed() -> Refusal:
    """400 ORDER_CLOSED: the order was closed or has expired."""
    return Refusal("ORDER_CLOSED", "订单已关闭", v2_code="ORDERCLOSED")


def order_paid() -> Refusal:
    """ORDER_PAID: closing or re-placing a paid order.

    The official FAQ names the code but no status; 400 is our choice, like ORDER_CLOSED.
    """
    return Refusal("ORDER_PAID", "该订单已支付", v2_code="ORDERPAID")


def order_not_exist() -> Refusal:
    """404 ORDER_NOT_EXIST: no such order for this merchant."""
    return Refusal("ORDER_NOT_EXIST", "订单不存在", status=404, v2_code="ORDERNOTEXIST")


def reentry_mismatch() -> Refusal:
    """400 INVALID_REQUEST: the same out_trade_no again with other parameters.

    The message is the platform's (official skills FAQ, error 268498688).
    """
    return Refusal("INVALID_REQUEST", "请求重入时，参数与首次请求时不一致")


def out_trade_no_used() -> Refusal:
    """403 OUT_TRADE_NO_USED: the number was used on another prepay API or API version."""
    return Refusal("OUT_TRADE_NO_USED", "商户订单号重复", status=403)


def refund_order_not_exist() -> Refusal:
    """404 RESOURCE_NOT_EXISTS on refund create: the order is missing or unpaid."""
    return Refusal(
        "RESOURCE_NOT_EXISTS", "订单号不存在(含未支付订单)", status=404, v2_code="ORDERNOTEXIST"
    )


def refund_not_exist() -> Refusal:
    """404 RESOURCE_NOT_EXISTS on refund query."""
    return Refusal("RESOURCE_NOT_EXISTS", "退款单不存在", status=404, v2_code="REFUNDNOTEXIST")


def not_enough() -> Refusal:
    """403 NOT_ENOUGH: the refunds would exceed what was paid (the lead's choice of code)."""
    return Refusal("NOT_ENOUGH", "退款金额超过订单可退金额", status=403, v2_code="NOTENOUGH")


def amount_mismatch(field: str) -> Refusal:
    """400 PARAM_ERROR: the order total given with a refund is not the order's total."""
    return param_error(field, "订单金额与原订单不一致 (total differs from the order's amount)")


def refund_not_abnormal(status: str) -> Refusal:
    """400 INVALID_REQUEST: only an ABNORMAL refund can be sent elsewhere (apply-abnormal-refund).

    WeChat's page names no code for this; INVALID_REQUEST (a valid request against the
    business rules) is our choice, and the message gives the refund's current status.
    """
    return Refusal(
        "INVALID_REQUEST", f"退款单状态为{status}，仅退款异常(ABNORMAL)的退款单可发起异常退款"
    )


def platform_serial_error(issue: str) -> Refusal:
    """400 PARAM_ERROR on the ``Wechatpay-Serial`` header (missing, or not the merchant's key)."""
    refusal = Refusal("PARAM_ERROR", f"参数错误: {issue}", field="Wechatpay-Serial")
    refusal.location = "header"
    return refusal


def decrypt_failed(field: str) -> Refusal:
    """400 PARAM_ERROR: a sensitive field does not decrypt with the key in ``Wechatpay-Serial``."""
    return param_error(
        field, "敏感信息解密失败，请用 Wechatpay-Serial 对应的微信支付公钥或平台证书加密"
    )
