"""The closed sets of values the database accepts, as ``StrEnum`` classes.

Each enum is stored as its string value in a ``VARCHAR`` column guarded by a ``CHECK``
constraint, so a typo never reaches the table and the values read the same in ``psql``, in
``sqlite3`` and in Python (``"PAID" == OrderState.PAID``)::

    >>> OrderState("PAID") is OrderState.PAID
    True
    >>> ApiVersion.V3.value
    'v3'

The transitions between states are the domain's business (docs/data-model.md draws them); this
module only names the states.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ApiVersion",
    "DeliveryState",
    "LoginCodeState",
    "NotificationKind",
    "OrderState",
    "PaymentChannel",
    "RefundState",
]


class OrderState(StrEnum):
    """Where an order stands (``CREATED → PAYING → PAID → (PARTIALLY_)REFUNDED``, or ``CLOSED``)."""

    CREATED = "CREATED"  #: created by the merchant backend, never handed to WeChat
    PAYING = "PAYING"  #: a prepay exists; the payer may be paying right now
    PAID = "PAID"  #: WeChat reported SUCCESS (by notification or query)
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"  #: some, not all, of the paid amount refunded
    REFUNDED = "REFUNDED"  #: the whole paid amount refunded
    CLOSED = "CLOSED"  #: expired or closed before payment; paying it later is an anomaly


class RefundState(StrEnum):
    """Where a refund stands; ``SUCCESS``, ``CLOSED`` and ``ABNORMAL`` are final."""

    PENDING = "PENDING"  #: recorded here, not yet accepted by WeChat
    PROCESSING = "PROCESSING"  #: accepted by WeChat, money on its way back
    SUCCESS = "SUCCESS"  #: the payer has the money
    CLOSED = "CLOSED"  #: WeChat closed the refund; nothing was returned
    ABNORMAL = "ABNORMAL"  #: WeChat could not return the money (e.g. card cancelled)


class LoginCodeState(StrEnum):
    """Progress of one ``wx.login`` code through ``jscode2session``."""

    CLAIMED = "claimed"  #: a request is exchanging the code right now
    DONE = "done"  #: exchanged; ``session_id`` names the session it produced
    FAILED = "failed"  #: WeChat refused the code; ``error`` says why


class ApiVersion(StrEnum):
    """The WeChat Pay API generation an order is paid through."""

    V3 = "v3"  #: JSON, SHA256-RSA signatures, AES-GCM resources
    V2 = "v2"  #: XML, MD5 / HMAC-SHA256 signatures


class PaymentChannel(StrEnum):
    """How the payer is asked to pay."""

    MINIPROGRAM = "miniprogram"  #: ``wx.requestPayment`` in a mini program
    JSAPI = "jsapi"  #: ``WeixinJSBridge`` in WeChat's in-app browser
    H5 = "h5"  #: ``h5_url`` (MWEB) in a phone browser outside WeChat
    NATIVE = "native"  #: ``code_url`` shown as a QR code
    APP = "app"  #: a native app through the OpenSDK
    VIRTUAL = "virtual"  #: ``wx.requestVirtualPayment`` (mini program virtual goods)


class NotificationKind(StrEnum):
    """What a notification received from WeChat turned out to be."""

    PAYMENT = "payment"  #: a transaction notification
    REFUND = "refund"  #: a refund notification
    UNKNOWN = "unknown"  #: not parseable far enough to tell (kept for audit)


class DeliveryState(StrEnum):
    """Progress of one outbox event towards one webhook endpoint."""

    PENDING = "PENDING"  #: waiting for its ``next_attempt_at``
    DELIVERED = "DELIVERED"  #: the endpoint answered 2xx
    DEAD = "DEAD"  #: retries exhausted; resendable by hand
