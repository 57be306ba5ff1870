"""WeChat's notifications in: verified, decrypted, checked, applied exactly once, all stored.

::

    receipt = await receive_v3(services, mchid, request.headers, await request.body())
    receipt.status      # 204 accepted; 401 bad signature / probe / stale; 400; 413; 404
    receipt.verdict     # "applied", "duplicate", "anomaly:amount_mismatch", "rejected_stale", …

The order of work is the security rule of DESIGN.md: raw bytes, size cap, the merchant from
the URL, verification with that merchant's keys, then decryption, then the checks against our
records and the one transition (:func:`~paydesk.domain.payments.settle.settle`). Every
delivery is stored raw in ``notifications`` with its verdict — accepted ones in the same
transaction as their effect, refused ones in a transaction of their own.

Refund notifications go the same way to ``paydesk.domain.refunds.settle_refund``.

Modules: :mod:`.v3` and :mod:`.v2` (one per API), :mod:`.apply` (the transaction),
:mod:`.records` (what a stored row holds), :mod:`.receipts` (verdicts and statuses).

>>> Receipt("rejected_probe", 401, "WeChat Pay signature probe", 1).accepted
False
"""

from __future__ import annotations

from paydesk.domain.notifications.receipts import Receipt, Verdict
from paydesk.domain.notifications.v2 import receive_v2
from paydesk.domain.notifications.v3 import receive_v3

__all__ = [
    "Receipt",
    "Verdict",
    "receive_v2",
    "receive_v3",
]
