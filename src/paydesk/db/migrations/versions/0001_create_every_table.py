"""Create every table of paydesk's first schema.

Revision ID: 0001
Revises:
Create Date: 2026-11-22

Written against plain SQLAlchemy types, not paydesk's (``UTCDateTime`` stores a
``DateTime(timezone=True)``; the enum columns are ``VARCHAR(32)`` with a ``CHECK``), so this
script keeps meaning the same schema whatever the models become. Constraint names follow
``paydesk.db.base.NAMING_CONVENTION``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

ID = sa.String(64)
APPID = sa.String(32)
MCHID = sa.String(32)
OPENID = sa.String(128)
SHA256_HEX = sa.String(64)
MONEY = sa.BigInteger()
LOG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
STATE = sa.String(32)

ORDER_STATES = ("CREATED", "PAYING", "PAID", "PARTIALLY_REFUNDED", "REFUNDED", "CLOSED")
REFUND_STATES = ("PENDING", "PROCESSING", "SUCCESS", "CLOSED", "ABNORMAL")
LOGIN_CODE_STATES = ("claimed", "done", "failed")
API_VERSIONS = ("v3", "v2")
PAYMENT_CHANNELS = ("miniprogram", "jsapi", "h5", "native", "app", "virtual")
NOTIFICATION_KINDS = ("payment", "refund", "unknown")
DELIVERY_STATES = ("PENDING", "DELIVERED", "DEAD")

#: Every table, parents before children (the order ``downgrade`` reverses).
TABLES = (
    "api_keys",
    "idempotency_keys",
    "push_messages",
    "users",
    "webhook_endpoints",
    "orders",
    "sessions",
    "login_codes",
    "notifications",
    "payments",
    "refunds",
    "anomalies",
    "order_events",
    "outbox_events",
    "deliveries",
    "delivery_attempts",
)


def _pk(table: str, *columns: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint(*columns, name=op.f(f"pk_{table}"))


def _unique(table: str, *columns: str) -> sa.UniqueConstraint:
    return sa.UniqueConstraint(*columns, name=op.f(f"uq_{table}_{'_'.join(columns)}"))


def _fk(table: str, column: str, parent: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{parent}.id"], name=op.f(f"fk_{table}_{column}_{parent}")
    )


def _check(table: str, name: str, condition: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(condition, name=op.f(f"ck_{table}_{name}"))


def _one_of(table: str, name: str, column: str, values: Sequence[str]) -> sa.CheckConstraint:
    listed = ", ".join(f"'{value}'" for value in values)
    return _check(table, name, f"{column} IN ({listed})")


def _index(table: str, *columns: str) -> None:
    op.create_index(op.f(f"ix_{table}_{'_'.join(columns)}"), table, list(columns))


def _identity_tables() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("prefix", sa.String(12), nullable=False),
        sa.Column("key_hash", SHA256_HEX, nullable=False),
        sa.Column("mchid", MCHID, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("last_used_at", UTC, nullable=True),
        sa.Column("revoked_at", UTC, nullable=True),
        _pk("api_keys", "id"),
        _unique("api_keys", "key_hash"),
    )
    _index("api_keys", "prefix")

    op.create_table(
        "users",
        sa.Column("id", ID, nullable=False),
        sa.Column("appid", APPID, nullable=False),
        sa.Column("openid", OPENID, nullable=False),
        sa.Column("unionid", OPENID, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        _pk("users", "id"),
        _unique("users", "appid", "openid"),
    )
    _index("users", "unionid")

    op.create_table(
        "sessions",
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("token_hash", SHA256_HEX, nullable=False),
        sa.Column("session_key", sa.String(128), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.Column("revoked_at", UTC, nullable=True),
        _pk("sessions", "id"),
        _fk("sessions", "user_id", "users"),
        _unique("sessions", "token_hash"),
    )
    _index("sessions", "user_id")

    op.create_table(
        "login_codes",
        sa.Column("appid", APPID, nullable=False),
        sa.Column("code_hash", SHA256_HEX, nullable=False),
        sa.Column("state", STATE, nullable=False),
        sa.Column("session_id", ID, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        _pk("login_codes", "appid", "code_hash"),
        _fk("login_codes", "session_id", "sessions"),
        _one_of("login_codes", "logincodestate", "state", LOGIN_CODE_STATES),
    )


def _order_tables() -> None:
    op.create_table(
        "orders",
        sa.Column("id", ID, nullable=False),
        sa.Column("out_trade_no", sa.String(32), nullable=False),
        sa.Column("mchid", MCHID, nullable=False),
        sa.Column("appid", APPID, nullable=False),
        sa.Column("merchant_order_id", sa.String(64), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("currency", sa.String(3), server_default="CNY", nullable=False),
        sa.Column("description", sa.String(127), nullable=False),
        sa.Column("attach", sa.String(128), nullable=True),
        sa.Column("metadata", JSON, nullable=False),
        sa.Column("state", STATE, nullable=False),
        sa.Column("user_id", ID, nullable=True),
        sa.Column("payer_openid", OPENID, nullable=True),
        sa.Column("payer_appid", APPID, nullable=True),
        sa.Column("api_version", STATE, nullable=True),
        sa.Column("transaction_id", sa.String(32), nullable=True),
        sa.Column("paid_amount", MONEY, nullable=True),
        sa.Column("refunded_amount", MONEY, server_default="0", nullable=False),
        sa.Column("version", sa.Integer(), server_default="0", nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.Column("paid_at", UTC, nullable=True),
        sa.Column("closed_at", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        _pk("orders", "id"),
        _fk("orders", "user_id", "users"),
        _unique("orders", "out_trade_no"),
        _unique("orders", "mchid", "merchant_order_id"),
        _unique("orders", "transaction_id"),
        _check("orders", "amount_positive", "amount > 0"),
        _check("orders", "currency_cny", "currency = 'CNY'"),
        _check("orders", "out_trade_no_length", "length(out_trade_no) BETWEEN 6 AND 32"),
        _check("orders", "paid_amount_non_negative", "paid_amount IS NULL OR paid_amount >= 0"),
        _check("orders", "refunded_amount_non_negative", "refunded_amount >= 0"),
        _check(
            "orders", "refunded_within_paid", "refunded_amount <= coalesce(paid_amount, amount)"
        ),
        _one_of("orders", "orderstate", "state", ORDER_STATES),
        _one_of("orders", "apiversion", "api_version", API_VERSIONS),
    )
    _index("orders", "state", "updated_at")
    _index("orders", "mchid", "created_at", "id")

    op.create_table(
        "payments",
        sa.Column("id", ID, nullable=False),
        sa.Column("order_id", ID, nullable=False),
        sa.Column("out_trade_no", sa.String(32), nullable=False),
        sa.Column("channel", STATE, nullable=False),
        sa.Column("api_version", STATE, nullable=False),
        sa.Column("appid", APPID, nullable=False),
        sa.Column("mchid", MCHID, nullable=False),
        sa.Column("openid", OPENID, nullable=True),
        sa.Column("prepay_id", sa.String(64), nullable=True),
        sa.Column("code_url", sa.Text(), nullable=True),
        sa.Column("h5_url", sa.Text(), nullable=True),
        sa.Column("params_hash", SHA256_HEX, nullable=False),
        sa.Column("trade_state", sa.String(32), nullable=True),
        sa.Column("transaction_id", sa.String(32), nullable=True),
        sa.Column("paid_at", UTC, nullable=True),
        sa.Column("closed_at", UTC, nullable=True),
        sa.Column("expires_at", UTC, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        _pk("payments", "id"),
        _unique("payments", "out_trade_no"),
        _unique("payments", "transaction_id"),
        _fk("payments", "order_id", "orders"),
        _one_of("payments", "paymentchannel", "channel", PAYMENT_CHANNELS),
        _one_of("payments", "apiversion", "api_version", API_VERSIONS),
    )
    _index("payments", "order_id", "created_at")

    op.create_table(
        "refunds",
        sa.Column("id", ID, nullable=False),
        sa.Column("order_id", ID, nullable=False),
        sa.Column("out_refund_no", sa.String(64), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("reason", sa.String(80), nullable=True),
        sa.Column("state", STATE, nullable=False),
        sa.Column("refund_id", sa.String(32), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("succeeded_at", UTC, nullable=True),
        _pk("refunds", "id"),
        _fk("refunds", "order_id", "orders"),
        _unique("refunds", "out_refund_no"),
        _check("refunds", "amount_positive", "amount > 0"),
        _check("refunds", "attempts_non_negative", "attempts >= 0"),
        _one_of("refunds", "refundstate", "state", REFUND_STATES),
    )
    _index("refunds", "order_id")
    _index("refunds", "refund_id")
    _index("refunds", "state", "updated_at")

    op.create_table(
        "order_events",
        sa.Column("id", LOG_ID, nullable=False),
        sa.Column("order_id", ID, nullable=False),
        sa.Column("refund_id", ID, nullable=True),
        sa.Column("from_state", STATE, nullable=True),
        sa.Column("to_state", STATE, nullable=False),
        sa.Column("cause", sa.String(64), nullable=False),
        sa.Column("detail", JSON, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        _pk("order_events", "id"),
        _fk("order_events", "order_id", "orders"),
        _fk("order_events", "refund_id", "refunds"),
    )
    _index("order_events", "order_id", "id")


def _inbound_and_ops_tables() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", LOG_ID, nullable=False),
        sa.Column("received_at", UTC, nullable=False),
        sa.Column("mchid", MCHID, nullable=False),
        sa.Column("api_version", STATE, nullable=False),
        sa.Column("kind", STATE, nullable=False),
        sa.Column("event_id", sa.String(64), nullable=True),
        sa.Column("headers", JSON, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("verdict", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("order_id", ID, nullable=True),
        _pk("notifications", "id"),
        _fk("notifications", "order_id", "orders"),
        _one_of("notifications", "apiversion", "api_version", API_VERSIONS),
        _one_of("notifications", "notificationkind", "kind", NOTIFICATION_KINDS),
    )
    _index("notifications", "event_id")
    _index("notifications", "order_id")

    op.create_table(
        "push_messages",
        sa.Column("appid", APPID, nullable=False),
        sa.Column("dedupe_key", sa.String(200), nullable=False),
        sa.Column("received_at", UTC, nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("handled_at", UTC, nullable=True),
        _pk("push_messages", "appid", "dedupe_key"),
    )

    op.create_table(
        "idempotency_keys",
        sa.Column("id", ID, nullable=False),
        sa.Column("scope", ID, nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("request_hash", SHA256_HEX, nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", JSON, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("locked_at", UTC, nullable=True),
        _pk("idempotency_keys", "id"),
        _unique("idempotency_keys", "scope", "key"),
    )

    op.create_table(
        "anomalies",
        sa.Column("id", ID, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("mchid", MCHID, nullable=False),
        sa.Column("order_id", ID, nullable=True),
        sa.Column("refund_id", ID, nullable=True),
        sa.Column("detail", JSON, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("resolved_at", UTC, nullable=True),
        _pk("anomalies", "id"),
        _fk("anomalies", "order_id", "orders"),
        _fk("anomalies", "refund_id", "refunds"),
    )
    _index("anomalies", "order_id")
    _index("anomalies", "resolved_at", "created_at")


def _webhook_tables() -> None:
    op.create_table(
        "outbox_events",
        sa.Column("id", ID, nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("mchid", MCHID, nullable=False),
        sa.Column("order_id", ID, nullable=True),
        sa.Column("refund_id", ID, nullable=True),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("published_at", UTC, nullable=True),
        _pk("outbox_events", "id"),
        _fk("outbox_events", "order_id", "orders"),
        _fk("outbox_events", "refund_id", "refunds"),
    )
    _index("outbox_events", "order_id")
    _index("outbox_events", "published_at")

    op.create_table(
        "webhook_endpoints",
        sa.Column("id", ID, nullable=False),
        sa.Column("mchid", MCHID, nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secrets", JSON, nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        _pk("webhook_endpoints", "id"),
    )
    _index("webhook_endpoints", "mchid")

    op.create_table(
        "deliveries",
        sa.Column("id", ID, nullable=False),
        sa.Column("event_id", ID, nullable=False),
        sa.Column("endpoint_id", ID, nullable=False),
        sa.Column("state", STATE, nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", UTC, nullable=False),
        sa.Column("locked_until", UTC, nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("delivered_at", UTC, nullable=True),
        _pk("deliveries", "id"),
        _fk("deliveries", "event_id", "outbox_events"),
        _fk("deliveries", "endpoint_id", "webhook_endpoints"),
        _unique("deliveries", "event_id", "endpoint_id"),
        _check("deliveries", "attempts_non_negative", "attempts >= 0"),
        _one_of("deliveries", "deliverystate", "state", DELIVERY_STATES),
    )
    _index("deliveries", "endpoint_id")
    _index("deliveries", "state", "next_attempt_at")

    op.create_table(
        "delivery_attempts",
        sa.Column("id", LOG_ID, nullable=False),
        sa.Column("delivery_id", ID, nullable=False),
        sa.Column("attempted_at", UTC, nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("response_excerpt", sa.String(1024), nullable=True),
        _pk("delivery_attempts", "id"),
        _fk("delivery_attempts", "delivery_id", "deliveries"),
    )
    _index("delivery_attempts", "delivery_id", "attempted_at")


def upgrade() -> None:
    """Create the sixteen tables, their constraints and their indexes."""
    _identity_tables()
    _order_tables()
    _inbound_and_ops_tables()
    _webhook_tables()


def downgrade() -> None:
    """Drop every table (and with them their indexes), children first."""
    for table in reversed(TABLES):
        op.drop_table(table)
