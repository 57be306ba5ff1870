"""Every paydesk table, importable from one place.

Importing this package registers all tables on :data:`paydesk.db.base.Base.metadata`, which
is what migrations and schema comparisons need::

    >>> from paydesk.db.models import Base
    >>> len(Base.metadata.tables)
    16
"""

from __future__ import annotations

from paydesk.db.base import Base
from paydesk.db.models.identity import ApiKey, LoginCode, User, UserSession
from paydesk.db.models.inbound import Notification, PushMessage
from paydesk.db.models.ops import Anomaly, IdempotencyKey
from paydesk.db.models.orders import Order, OrderEvent, Payment, Refund
from paydesk.db.models.webhooks import Delivery, DeliveryAttempt, OutboxEvent, WebhookEndpoint

__all__ = [
    "Anomaly",
    "ApiKey",
    "Base",
    "Delivery",
    "DeliveryAttempt",
    "IdempotencyKey",
    "LoginCode",
    "Notification",
    "Order",
    "OrderEvent",
    "OutboxEvent",
    "Payment",
    "PushMessage",
    "Refund",
    "User",
    "UserSession",
    "WebhookEndpoint",
]
