"""Pay v2 notifications: the signed payment notify, the encrypted refund notify, the replies.

Payment (PROTOCOL.md §2.3): WeChat POSTs flat signed XML to ``notify_url``; we parse it with
the hardened parser, verify ``sign`` with the merchant's pinned algorithm, and only then read
fields. The v2 notify has no timestamp, so a captured one verifies forever: the caller must
match ``out_trade_no``, ``mch_id``, ``appid`` and ``total_fee`` against its own order and apply
it idempotently (reliability note 2.3).

Refund: the outer XML carries no ``sign``; ``req_info`` is base64 of AES-256-ECB (PKCS#7) under
the *lowercase hex MD5 of the APIv2 key* used as 32 ASCII bytes, and decrypts to ``<root>…</root>``
(PROTOCOL.md §2.3, after wechatpy and go-pay). ECB gives no
integrity, so the caller should confirm a refund notify by a refund query (note 2.5).

Reply (HTTP 200) with :data:`NOTIFY_SUCCESS_XML` once the notify is stored; anything else
counts as a failure and is retried on the 15 s … 6 h schedule.

>>> key = "192006250b4c09247ec02edce69f6a2d"
>>> secret = encrypt_req_info({"out_refund_no": "R1", "refund_fee": 1}, key=key)
>>> decrypt_req_info(secret, key=key)
{'out_refund_no': 'R1', 'refund_fee': '1'}
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from paydesk.protocol.errors import DecryptError, MalformedInput
from paydesk.protocol.v2.codec import (
    fen,
    optional_fen,
    optional_text,
    parse_v2_fields,
    required_text,
)
from paydesk.protocol.v2.sign import SignType, verify_v2
from paydesk.protocol.xmlcodec import DEFAULT_MAX_BYTES, to_xml

__all__ = [
    "NOTIFY_SUCCESS_XML",
    "V2PaymentResult",
    "V2RefundResult",
    "decrypt_req_info",
    "encrypt_req_info",
    "notify_fail_xml",
    "parse_payment_notification",
    "parse_refund_notification",
]

#: The exact acknowledgement WeChat expects for a v2 notify (payment and refund alike).
NOTIFY_SUCCESS_XML = (
    b"<xml><return_code><![CDATA[SUCCESS]]></return_code>"
    b"<return_msg><![CDATA[OK]]></return_msg></xml>"
)


def notify_fail_xml(msg: str) -> str:
    """A v2 notify reply that refuses it (WeChat will send it again later).

    >>> notify_fail_xml("签名失败")
    '<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[签名失败]]></return_msg></xml>'
    """
    return to_xml({"return_code": "FAIL", "return_msg": msg})


@dataclass(frozen=True, slots=True, kw_only=True)
class V2PaymentResult:
    """A verified v2 payment notification. ``raw`` keeps every field as received.

    ``ok`` is true only when both ``return_code`` and ``result_code`` are ``SUCCESS``. Built by
    :func:`parse_payment_notification`; see :attr:`ok` for an example.
    """

    appid: str
    mch_id: str
    out_trade_no: str
    transaction_id: str
    total_fee: int  #: order amount in fen
    cash_fee: int | None  #: what the payer paid in cash, in fen (absent in old samples)
    result_code: str
    return_code: str
    openid: str
    trade_type: str
    bank_type: str
    time_end: str  #: ``yyyyMMddHHmmss``, Beijing time
    attach: str | None
    raw: dict[str, str]

    @property
    def ok(self) -> bool:
        """True when the payment succeeded.

        >>> V2PaymentResult(appid="a", mch_id="m", out_trade_no="o", transaction_id="t",
        ...     total_fee=1, cash_fee=None, result_code="SUCCESS", return_code="SUCCESS",
        ...     openid="u", trade_type="JSAPI", bank_type="CFT", time_end="20140903131540",
        ...     attach=None, raw={}).ok
        True
        """
        return self.return_code == "SUCCESS" and self.result_code == "SUCCESS"


def parse_payment_notification(
    body: bytes, *, key: str, sign_type: SignType, max_bytes: int = DEFAULT_MAX_BYTES
) -> V2PaymentResult:
    """Parse and verify a v2 payment notify body; fields are read only after ``sign`` holds.

    Raises ``InputTooLarge``/``HostileXML``/``MalformedInput`` for a body we will not parse,
    ``SignatureMismatch``/``UnsupportedSignatureType`` for one that does not verify, and
    ``MalformedInput`` (with ``field``) for a verified body missing a field we need.

    Usage in a notify endpoint (the caller then checks the order and stores the body)::

        try:
            result = parse_payment_notification(body, key=merchant.v2_key, sign_type="MD5")
        except ProtocolError as exc:
            return Response(notify_fail_xml(exc.reason), media_type="text/xml")
        ...
        return Response(NOTIFY_SUCCESS_XML, media_type="text/xml")
    """
    fields = parse_v2_fields(body, max_bytes=max_bytes)
    verify_v2(fields, key, sign_type)
    return V2PaymentResult(
        appid=required_text(fields, "appid"),
        mch_id=required_text(fields, "mch_id"),
        out_trade_no=required_text(fields, "out_trade_no"),
        transaction_id=required_text(fields, "transaction_id"),
        total_fee=fen(fields, "total_fee"),
        cash_fee=optional_fen(fields, "cash_fee"),
        result_code=required_text(fields, "result_code"),
        return_code=required_text(fields, "return_code"),
        openid=required_text(fields, "openid"),
        trade_type=required_text(fields, "trade_type"),
        bank_type=required_text(fields, "bank_type"),
        time_end=required_text(fields, "time_end"),
        attach=optional_text(fields, "attach"),
        raw=fields,
    )


_MAX_PAD = 32


def _req_info_cipher(key: str) -> Cipher[modes.ECB]:
    secret = key.encode("utf-8", "surrogatepass")
    aes_key = hashlib.md5(secret).hexdigest().encode()  # noqa: S324 - WeChat's key rule
    # ECB is what WeChat uses for req_info; there is no IV to pass.
    return Cipher(algorithms.AES(aes_key), modes.ECB())  # noqa: S305


def encrypt_req_info(fields: Mapping[str, str | int], *, key: str) -> str:
    """Encrypt refund-notify fields into ``req_info``, as WeChat (and the sandbox) sends it.

    >>> len(encrypt_req_info({"refund_status": "SUCCESS"}, key="k")) % 4
    0
    """
    padder = padding.PKCS7(algorithms.AES.block_size).padder()
    plain = padder.update(to_xml(fields, root="root").encode()) + padder.finalize()
    encryptor = _req_info_cipher(key).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode("ascii")


def _unpad(padded: bytes) -> bytes:
    # WeChat documents "PKCS7Padding" on AES's 16-byte blocks, while wechatpy pads req_info to
    # 32 bytes (wechatpy/crypto/pkcs7.py): accept a pad of 1..32 equal bytes, as both produce.
    count = padded[-1]
    if not 1 <= count <= _MAX_PAD or padded[-count:] != bytes([count]) * count:
        raise DecryptError("req_info padding is wrong: wrong APIv2 key?")
    return padded[:-count]


def decrypt_req_info(req_info: str, *, key: str) -> dict[str, str]:
    """Decrypt a refund notify's ``req_info`` into its ``<root>`` fields.

    ``DecryptError`` when the base64, the block length or the padding is wrong, or when the
    plaintext is not the expected XML — all of which mean a wrong key or a damaged value.

    >>> decrypt_req_info(encrypt_req_info({"refund_fee": 1}, key="k"), key="k")
    {'refund_fee': '1'}
    """
    try:
        secret = base64.b64decode(req_info, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DecryptError("req_info is not base64") from exc
    if not secret or len(secret) % 16:
        raise DecryptError(f"req_info is {len(secret)} bytes, not whole AES blocks")
    decryptor = _req_info_cipher(key).decryptor()
    plain = _unpad(decryptor.update(secret) + decryptor.finalize())
    try:
        return parse_v2_fields(plain, max_bytes=len(plain), root="root")
    except MalformedInput as exc:
        raise DecryptError(f"req_info did not decrypt to <root> XML: {exc.reason}") from exc


@dataclass(frozen=True, slots=True, kw_only=True)
class V2RefundResult:
    """A decrypted v2 refund notification.

    ``raw`` holds the decrypted ``req_info`` fields; ``appid``/``mch_id`` come from the outer,
    unsigned envelope and must be checked against the refund's merchant by the caller. Built by
    :func:`parse_refund_notification`; see :attr:`ok` for an example.
    """

    appid: str
    mch_id: str
    out_trade_no: str
    transaction_id: str
    out_refund_no: str
    refund_id: str
    total_fee: int  #: order amount in fen
    refund_fee: int  #: refund amount in fen
    settlement_refund_fee: int | None
    refund_status: str  #: ``SUCCESS`` | ``CHANGE`` | ``REFUNDCLOSE``
    success_time: str | None  #: ``yyyy-MM-dd HH:mm:ss``, Beijing time; only on success
    refund_recv_accout: str | None  #: WeChat's spelling
    raw: dict[str, str]

    @property
    def ok(self) -> bool:
        """True when the refund reached the payer.

        >>> V2RefundResult(appid="a", mch_id="m", out_trade_no="o", transaction_id="t",
        ...     out_refund_no="r", refund_id="ri", total_fee=2, refund_fee=1,
        ...     settlement_refund_fee=None, refund_status="SUCCESS", success_time=None,
        ...     refund_recv_accout=None, raw={}).ok
        True
        """
        return self.refund_status == "SUCCESS"


def parse_refund_notification(
    body: bytes, *, key: str, max_bytes: int = DEFAULT_MAX_BYTES
) -> V2RefundResult:
    """Parse a v2 refund notify: read the envelope, decrypt ``req_info``, type the fields.

    There is no ``sign`` to verify: a correct decryption under our key is the only
    authentication WeChat offers here.

    >>> envelope = to_xml({"return_code": "SUCCESS", "appid": "wx1", "mch_id": "1",
    ...     "req_info": encrypt_req_info({"out_trade_no": "o1", "transaction_id": "t1",
    ...         "out_refund_no": "r1", "refund_id": "5001", "total_fee": 2, "refund_fee": 1,
    ...         "refund_status": "SUCCESS"}, key="k")})
    >>> parse_refund_notification(envelope.encode(), key="k").refund_fee
    1
    """
    envelope = parse_v2_fields(body, max_bytes=max_bytes)
    if envelope.get("return_code") != "SUCCESS":
        raise MalformedInput(
            f"refund notify return_code is {envelope.get('return_code')!r}", field="return_code"
        )
    fields = decrypt_req_info(required_text(envelope, "req_info"), key=key)
    return V2RefundResult(
        appid=required_text(envelope, "appid"),
        mch_id=required_text(envelope, "mch_id"),
        out_trade_no=required_text(fields, "out_trade_no"),
        transaction_id=required_text(fields, "transaction_id"),
        out_refund_no=required_text(fields, "out_refund_no"),
        refund_id=required_text(fields, "refund_id"),
        total_fee=fen(fields, "total_fee"),
        refund_fee=fen(fields, "refund_fee"),
        settlement_refund_fee=optional_fen(fields, "settlement_refund_fee"),
        refund_status=required_text(fields, "refund_status"),
        success_time=optional_text(fields, "success_time"),
        refund_recv_accout=optional_text(fields, "refund_recv_accout"),
        raw=fields,
    )
