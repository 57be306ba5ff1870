"""Background work: the worker loop (:mod:`~paydesk.workers.runner`) and its jobs.

Jobs so far: webhook fan-out and delivery (:mod:`~paydesk.workers.delivery`). ``paydesk
worker`` runs them; any number of workers may run at once on PostgreSQL, one on SQLite.
"""

from __future__ import annotations

from paydesk.workers.delivery import DeliveryOptions, deliver_due, delivery_jobs, publish
from paydesk.workers.runner import Job, JobContext, Worker

__all__ = [
    "DeliveryOptions",
    "Job",
    "JobContext",
    "Worker",
    "deliver_due",
    "delivery_jobs",
    "publish",
]
