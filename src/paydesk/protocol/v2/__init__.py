"""WeChat Pay API v2 (legacy XML): signing, pay parameters, notifications, replies, endpoints.

Modules: :mod:`.sign` (MD5 / HMAC-SHA256), :mod:`.codec` (flat XML bodies, fen),
:mod:`.pay_params` (the client's second signature), :mod:`.notify` (payment and refund
notifications), :mod:`.models` (typed API replies), :mod:`.endpoints` (paths as data).

>>> from paydesk.protocol.v2 import sign_v2
>>> sign_v2({"appid": "wxd930ea5d5a258f4f", "mch_id": "10000100", "device_info": "1000",
...          "body": "test", "nonce_str": "ibuaiVcKdpRxkhJA"},
...         "192006250b4c09247ec02edce69f6a2d", "HMAC-SHA256")[:8]
'6A9AE165'
"""

from __future__ import annotations

from paydesk.protocol.v2.codec import parse_v2_fields, signed_xml
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
from paydesk.protocol.v2.notify import (
    NOTIFY_SUCCESS_XML,
    V2PaymentResult,
    V2RefundResult,
    decrypt_req_info,
    encrypt_req_info,
    notify_fail_xml,
    parse_payment_notification,
    parse_refund_notification,
)
from paydesk.protocol.v2.pay_params import (
    app_pay_params_v2,
    jsapi_pay_params_v2,
    prepay_id_of,
    verify_pay_sign_v2,
)
from paydesk.protocol.v2.sign import SignType, check_sign_type, sign_v2, string_to_sign, verify_v2

__all__ = [
    "NOTIFY_SUCCESS_XML",
    "CloseOrderResponse",
    "OrderQueryResponse",
    "RefundQueryItem",
    "RefundQueryResponse",
    "RefundResponse",
    "SignType",
    "UnifiedOrderResponse",
    "V2PaymentResult",
    "V2RefundResult",
    "V2Response",
    "app_pay_params_v2",
    "check_sign_type",
    "decrypt_req_info",
    "encrypt_req_info",
    "jsapi_pay_params_v2",
    "notify_fail_xml",
    "parse_payment_notification",
    "parse_refund_notification",
    "parse_v2_fields",
    "parse_v2_response",
    "prepay_id_of",
    "sign_v2",
    "signed_xml",
    "string_to_sign",
    "verify_pay_sign_v2",
    "verify_v2",
]
