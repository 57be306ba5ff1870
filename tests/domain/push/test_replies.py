"""paydesk.domain.push.replies: templates from the environment, checked when they load."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from paydesk.domain.push.replies import DEFAULT_STATE_LABELS, PushSettings, yuan


def test_the_defaults_are_chinese_and_render_every_placeholder() -> None:
    settings = PushSettings()
    fields = {"description": "会员月卡", "amount": "19.99", "merchant": "小店", "order": "A-1"}
    assert settings.render("link_title", **fields) == "小店：待支付订单"
    assert settings.render("link_description", **fields).splitlines() == [
        "会员月卡",
        "金额：¥19.99",
        "点击卡片，在微信内完成支付",
    ]
    assert settings.render("not_payable_text", state="已关闭", **fields) == "订单 A-1 已关闭。"
    assert settings.state_labels == DEFAULT_STATE_LABELS


def test_templates_and_labels_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYDESK_PUSH_LINK_TITLE", "Pay {merchant}")
    monkeypatch.setenv("PAYDESK_PUSH_LINK_DESCRIPTION", "{description}: CNY {amount}")
    monkeypatch.setenv("PAYDESK_PUSH_STATE_LABELS", '{"PAID": "is paid"}')
    monkeypatch.setenv("PAYDESK_PUSH_THUMB_URL", "https://shop.example/logo.png")
    monkeypatch.setenv("PAYDESK_PUSH_RETRY_DELAYS", "[0.5, 2]")
    settings = PushSettings()
    assert settings.render("link_title", merchant="Shop") == "Pay Shop"
    assert settings.render("link_description", description="Gold", amount="1.00") == (
        "Gold: CNY 1.00"
    )
    assert settings.state_label("PAID") == "is paid"
    assert settings.state_label("CLOSED") == "CLOSED"  # replaced, not merged: say them all
    assert settings.thumb_url == "https://shop.example/logo.png"
    assert settings.retry_delays == (0.5, 2.0)


@pytest.mark.parametrize(
    ("field", "template"),
    [
        ("link_title", "{total}"),  # not a placeholder of this template
        ("not_found_text", "{order}"),  # only {reference} here
        ("link_title", "{}"),  # positional
        ("link_title", "{0}"),
        ("link_description", "{order.id}"),  # no attribute access
        ("link_description", "{description"),  # not a template at all
    ],
)
def test_a_template_with_an_unknown_placeholder_is_refused_at_load(
    field: str, template: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        PushSettings.model_validate({field: template})
    assert field in str(refused.value)


@pytest.mark.parametrize(
    "values",
    [
        {"thumb_url": "ftp://shop.example/logo.png"},
        {"retry_delays": (1.0, -1.0)},
        {"retry_delays": (1.0,) * 11},
        {"timestamp_tolerance": 5},
    ],
)
def test_other_settings_are_checked_too(values: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        PushSettings.model_validate(values)


@pytest.mark.parametrize(("fen", "shown"), [(1, "0.01"), (100, "1.00"), (2**31 - 1, "21474836.47")])
def test_amounts_are_yuan_with_two_decimals(fen: int, shown: str) -> None:
    assert yuan(fen) == shown
