"""What a stored notification keeps: allow-listed headers, the body, capped identifiers."""

from __future__ import annotations

from datetime import UTC, datetime

from paydesk.db.enums import ApiVersion, NotificationKind
from paydesk.domain.notifications.records import (
    KEPT_HEADERS,
    Inbound,
    clean_text,
    kept_headers,
    notification_values,
)

WHEN = datetime(2026, 1, 1, tzinfo=UTC)


def test_only_allow_listed_headers_are_kept() -> None:
    headers = {
        "Wechatpay-Signature": "c2ln",
        "WECHATPAY-SERIAL": "PUB_KEY_ID_1",
        "Request-ID": "r-1",
        "Authorization": "Bearer pdk_secret",
        "Cookie": "session=secret",
        "X-Api-Key": "secret",
    }
    assert kept_headers(headers) == {
        "wechatpay-signature": "c2ln",
        "wechatpay-serial": "PUB_KEY_ID_1",
        "request-id": "r-1",
    }
    assert not {"authorization", "cookie"} & KEPT_HEADERS


def test_header_values_are_capped_and_cleaned() -> None:
    kept = kept_headers({"user-agent": "a\x00" + "b" * 5000})
    assert kept["user-agent"].startswith("a\ufffdb")
    assert len(kept["user-agent"]) == 1024


def test_bodies_are_text_with_nul_and_bad_bytes_replaced() -> None:
    inbound = Inbound("1900000001", ApiVersion.V3, {}, b"ok\x00\xff", WHEN)
    assert inbound.body_text() == "ok\ufffd\ufffd"
    assert inbound.body_text(limit=2) == "ok"
    assert clean_text("plain") == "plain"


def test_a_row_caps_what_a_sender_controls() -> None:
    inbound = Inbound("1900000001", ApiVersion.V2, {"content-type": "text/xml"}, b"<xml/>", WHEN)
    row = notification_values(
        inbound,
        kind=NotificationKind.REFUND,
        verdict="x" * 50,
        detail="why\x00",
        event_id="E" * 100,
        order_id="ord_1",
    )
    assert (len(row["verdict"]), len(row["event_id"] or "")) == (32, 64)
    assert row["detail"] == "why\ufffd"
    assert (row["mchid"], row["api_version"], row["kind"], row["order_id"]) == (
        "1900000001",
        ApiVersion.V2,
        NotificationKind.REFUND,
        "ord_1",
    )
    assert (row["headers"], row["body"], row["received_at"]) == (
        {"content-type": "text/xml"},
        "<xml/>",
        WHEN,
    )
    bare = notification_values(inbound, kind=NotificationKind.UNKNOWN, verdict="v", detail="")
    assert bare["event_id"] is None
