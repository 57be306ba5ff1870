"""What paydesk writes back to a user on customer service, and how hard it tries.

Every text is a template, configurable by environment (``PAYDESK_PUSH_*``), Chinese by
default. The placeholders each template may use:

==========================  ===============================================================
``link_title``              ``{description}`` ``{amount}`` ``{merchant}`` ``{order}``
``link_description``        ``{description}`` ``{amount}`` ``{merchant}`` ``{order}``
``not_payable_text``        ``{description}`` ``{amount}`` ``{merchant}`` ``{order}`` ``{state}``
``not_found_text``          ``{reference}``
==========================  ===============================================================

``{amount}`` is in yuan (``12.34``), ``{order}`` the merchant's own order id (the number the
shopper knows), ``{state}`` the label of the order's state from ``state_labels``. A template
naming anything else is refused when the settings load, not when a shopper writes in::

    >>> settings = PushSettings(link_title="{merchant}: ¥{amount}")
    >>> settings.render("link_title", merchant="Shop", amount=yuan(1999))
    'Shop: ¥19.99'
    >>> PushSettings(link_title="{total}")
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for PushSettings
    ...
"""

from __future__ import annotations

import string

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DEFAULT_STATE_LABELS", "PLACEHOLDERS", "PushSettings", "yuan"]

_ORDER_FIELDS = frozenset({"description", "amount", "merchant", "order"})
#: The placeholders each template may use.
PLACEHOLDERS: dict[str, frozenset[str]] = {
    "link_title": _ORDER_FIELDS,
    "link_description": _ORDER_FIELDS,
    "not_payable_text": _ORDER_FIELDS | {"state"},
    "not_found_text": frozenset({"reference"}),
}
#: How each order state reads in ``{state}``.
DEFAULT_STATE_LABELS: dict[str, str] = {
    "PAID": "已支付，无需再次付款",
    "PARTIALLY_REFUNDED": "已支付（部分退款）",
    "REFUNDED": "已退款",
    "CLOSED": "已关闭，请重新下单",
    "EXPIRED": "已过期，请重新下单",
    "BOUND": "只能由下单的账号在小程序内支付",
}


def yuan(fen: int) -> str:
    """Integer fen as a yuan string with two decimals, by integer arithmetic.

    >>> yuan(5), yuan(123400)
    ('0.05', '1234.00')
    """
    whole, cents = divmod(fen, 100)
    return f"{whole}.{cents:02d}"


class PushSettings(BaseSettings):
    """Reply templates and background retries of the customer-service push handler."""

    model_config = SettingsConfigDict(env_prefix="PAYDESK_PUSH_", extra="ignore", frozen=True)

    #: The link card's title.
    link_title: str = Field(default="{merchant}：待支付订单", max_length=128)
    #: The link card's description (WeChat shows two or three lines of it).
    link_description: str = Field(
        default="{description}\n金额：¥{amount}\n点击卡片，在微信内完成支付", max_length=512
    )
    #: The text sent instead of a link when the order cannot be paid.
    not_payable_text: str = Field(default="订单 {order} {state}。", max_length=512)
    #: The text sent when a card or an order number names no order this user may pay.
    not_found_text: str = Field(
        default="没有找到订单 {reference}，请核对后再发送。", max_length=512
    )
    #: ``{state}`` labels by order state, plus ``EXPIRED`` and ``BOUND`` (see the detour).
    state_labels: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_STATE_LABELS))
    #: The card's picture; default ``{public_url}/wechat/thumb.png``.
    thumb_url: str | None = Field(default=None, pattern=r"^https?://\S+$", max_length=1024)
    #: Seconds to wait before each retry of a push whose work failed (one retry per entry).
    retry_delays: tuple[float, ...] = Field(default=(1.0, 5.0, 30.0), max_length=10)
    #: How far a push's ``timestamp`` may be from our clock, in seconds (replays are refused).
    timestamp_tolerance: int = Field(default=300, ge=30)

    @field_validator("link_title", "link_description", "not_payable_text", "not_found_text")
    @classmethod
    def _known_placeholders(cls, template: str, info: ValidationInfo) -> str:
        allowed = PLACEHOLDERS[info.field_name or ""]
        try:
            parsed = list(string.Formatter().parse(template))
        except ValueError as exc:
            raise ValueError(f"not a valid template: {exc}") from exc
        unknown = {name for _, name, _, _ in parsed if name is not None} - allowed
        if unknown:
            raise ValueError(f"unknown placeholder {{{sorted(unknown)[0]}}}; use {sorted(allowed)}")
        return template

    @field_validator("retry_delays")
    @classmethod
    def _non_negative(cls, delays: tuple[float, ...]) -> tuple[float, ...]:
        if any(delay < 0 for delay in delays):
            raise ValueError("retry delays must not be negative")
        return delays

    def render(self, template: str, **values: str) -> str:
        """The template named ``template`` with ``values`` filled in.

        >>> PushSettings().render("not_found_text", reference="ord_1")
        '没有找到订单 ord_1，请核对后再发送。'
        """
        text: str = getattr(self, template)
        return text.format_map(values)

    def state_label(self, state: str) -> str:
        """The label of ``state`` (the state's name itself when none is configured).

        >>> PushSettings().state_label("CLOSED"), PushSettings().state_label("ODD")
        ('已关闭，请重新下单', 'ODD')
        """
        return self.state_labels.get(state, state)
