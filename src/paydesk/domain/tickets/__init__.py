"""Pay tickets: a short-lived, signed hand-over of one order from the platform's mini program to
the mini program that takes the money (seed 002). See :mod:`.service`.

    ticket = await issue_for_user(services, "ord_01…", "wx…payer", user)   # platform app
    start = await pay_with_ticket(services, ticket.ticket, payer_user, client_ip=None)
"""

from __future__ import annotations

from paydesk.domain.tickets.service import (
    PAY_TICKET_PURPOSE,
    TICKET_TTL,
    OpenedTicket,
    PayTicket,
    issue_for_merchant,
    issue_for_user,
    open_ticket,
    pay_with_ticket,
)

__all__ = [
    "PAY_TICKET_PURPOSE",
    "TICKET_TTL",
    "OpenedTicket",
    "PayTicket",
    "issue_for_merchant",
    "issue_for_user",
    "open_ticket",
    "pay_with_ticket",
]
