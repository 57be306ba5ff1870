"""Sweep bookkeeping on orders; the refunded attempt on automatic refunds.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

- ``orders.next_check_at`` / ``orders.check_attempts``: when the sweeps look at an order next
  and how often they have looked (the PAYING query backs off 10 s, 20 s, 40 s… up to 10 min);
  pushing ``next_check_at`` forward is how a worker claims the order. Indexed with ``state``.
- ``refunds.payment_id``: the attempt an automatic refund gives back (a payment for a closed
  order, or a second payment of one order); NULL for the merchant's own refunds.

Plain SQLAlchemy types, as in ``0001``. The foreign key is written inline in ``ADD COLUMN``
(SQLite cannot add a constraint to an existing table, but accepts a column with one).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add the three columns and the index."""
    op.add_column("orders", sa.Column("next_check_at", UTC, nullable=True))
    op.add_column(
        "orders", sa.Column("check_attempts", sa.Integer(), server_default="0", nullable=False)
    )
    op.create_index(op.f("ix_orders_state_next_check_at"), "orders", ["state", "next_check_at"])
    op.add_column(
        "refunds",
        sa.Column(
            "payment_id",
            sa.String(64),
            sa.ForeignKey("payments.id", name=op.f("fk_refunds_payment_id_payments")),
            nullable=True,
        ),
        inline_references=True,
    )


def downgrade() -> None:
    """Drop them again (SQLite 3.35+ drops a column that no index or constraint names)."""
    with op.batch_alter_table("refunds") as batch:
        batch.drop_column("payment_id")
    op.drop_index(op.f("ix_orders_state_next_check_at"), table_name="orders")
    op.drop_column("orders", "check_attempts")
    op.drop_column("orders", "next_check_at")
