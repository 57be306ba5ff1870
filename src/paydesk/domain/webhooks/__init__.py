"""Webhooks to the merchant: endpoints and secrets, fan-out, claims, retries, resend.

The parts, in the order an event meets them::

    outbox.add_event          (paydesk.domain.outbox, in the state change's transaction)
    fanout.publish_pending    one PENDING delivery per enabled endpoint of the merchant
    claims.claim_due          a worker leases due deliveries, commits, then sends
    claims.record_attempts    logs the tries; DELIVERED, retry later (backoff), or DEAD
    resend.resend             an operator makes an event or delivery due again

Signing itself is :mod:`paydesk.webhooks` (standard library only, shared with merchants);
sending is :mod:`paydesk.workers.delivery`. Every function here takes the caller's session and
leaves committing to it.
"""

from __future__ import annotations

from paydesk.domain.webhooks.backoff import (
    DEFAULT_POLICY,
    GiveUp,
    RetryAt,
    RetryPolicy,
    backoff_delay,
    next_attempt,
)
from paydesk.domain.webhooks.claims import (
    AttemptOutcome,
    ClaimedDelivery,
    claim_due,
    record_attempt,
    record_attempts,
)
from paydesk.domain.webhooks.endpoints import (
    SECRET_PREFIX,
    add_endpoint,
    disable_endpoint,
    enable_endpoint,
    get_endpoint,
    list_endpoints,
    retire_old_secret,
    rotate_secret,
)
from paydesk.domain.webhooks.fanout import publish_pending
from paydesk.domain.webhooks.payloads import encode_event
from paydesk.domain.webhooks.resend import resend
from paydesk.domain.webhooks.views import DeliveryView, attempts_of, recent_deliveries

__all__ = [
    "DEFAULT_POLICY",
    "SECRET_PREFIX",
    "AttemptOutcome",
    "ClaimedDelivery",
    "DeliveryView",
    "GiveUp",
    "RetryAt",
    "RetryPolicy",
    "add_endpoint",
    "attempts_of",
    "backoff_delay",
    "claim_due",
    "disable_endpoint",
    "enable_endpoint",
    "encode_event",
    "get_endpoint",
    "list_endpoints",
    "next_attempt",
    "publish_pending",
    "recent_deliveries",
    "record_attempt",
    "record_attempts",
    "resend",
    "retire_old_secret",
    "rotate_secret",
]
