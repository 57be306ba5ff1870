"""Chinese and English for the cashier pages, chosen by ``Accept-Language`` (Chinese by default).

>>> negotiate("en-US,en;q=0.9,zh-CN;q=0.8")
'en'
>>> negotiate("fr-FR, de;q=0.5") , negotiate(None)
('zh', 'zh')
>>> Translator("en")("pay_with_wechat")
'Pay with WeChat'
"""

from __future__ import annotations

from typing import Literal

__all__ = ["LANGUAGES", "MESSAGES", "Lang", "Translator", "negotiate"]

Lang = Literal["zh", "en"]
#: Supported languages, the default first.
LANGUAGES: tuple[Lang, ...] = ("zh", "en")
#: ``<html lang>`` for each language.
HTML_LANG: dict[Lang, str] = {"zh": "zh-CN", "en": "en"}

_MAX_HEADER = 512
_MAX_RANGES = 16

#: Every text of the pages: key → (Chinese, English).
MESSAGES: dict[str, tuple[str, str]] = {
    "title": ("收银台", "Checkout"),
    "amount": ("应付金额", "Amount due"),
    "amount_paid": ("实付金额", "Amount paid"),
    "amount_order": ("订单金额", "Order amount"),
    "order_no": ("订单号", "Order"),
    "scan_to_pay": ("请使用微信扫一扫付款", "Scan with WeChat to pay"),
    "scan_hint": (
        "打开微信，点击右上角“+”，选择“扫一扫”",
        "Open WeChat, tap “+” at the top right, then “Scan”",
    ),
    "waiting": ("等待付款", "Waiting for payment"),
    "live": ("付款后本页会自动更新", "This page updates by itself once you have paid"),
    "expires_at": ("支付截止", "Pay before"),
    "pay_with_wechat": ("微信支付", "Pay with WeChat"),
    "opening_wechat": ("正在打开微信支付…", "Opening WeChat Pay…"),
    "continue_to_wechat": ("继续前往微信支付", "Continue to WeChat Pay"),
    "paid_title": ("支付成功", "Payment received"),
    "paid_body": ("商户已确认收到您的付款。", "The merchant has confirmed your payment."),
    "refunded_title": ("已退款", "Refunded"),
    "refunded_body": ("这笔订单已退款。", "This order has been refunded."),
    "checking_title": ("正在确认支付结果", "Confirming your payment"),
    "checking_body": (
        "我们正在向微信支付核实，通常只需几秒钟。",
        "We are checking with WeChat Pay; this usually takes a few seconds.",
    ),
    "not_paid_title": ("尚未付款", "Not paid yet"),
    "cancelled_body": (
        "您已取消付款，可以重新支付。",
        "You cancelled the payment; you can pay again.",
    ),
    "failed_body": ("付款没有完成，请重试。", "The payment did not go through; please try again."),
    "pay_again": ("重新支付", "Pay again"),
    "check_again": ("我已付款，刷新结果", "I have paid — check again"),
    "closed_title": ("订单已关闭", "Order closed"),
    "closed_body": (
        "这笔订单已关闭，无法继续付款。如需购买，请返回商户重新下单。",
        "This order is closed and can no longer be paid. Return to the shop to order again.",
    ),
    "expired_title": ("订单已过期", "This order has expired"),
    "expired_body": (
        "付款时间已过，请返回商户重新下单。",
        "The time to pay has passed. Return to the shop to order again.",
    ),
    "invalid_title": ("链接无效", "This link is not valid"),
    "invalid_body": (
        "这个付款链接无法识别，请向商户索取新的链接。",
        "We do not recognise this payment link. Ask the shop for a new one.",
    ),
    "busy_title": ("微信支付暂时繁忙", "WeChat Pay is busy"),
    "busy_body": (
        "请稍后重试，您没有被扣款。",
        "Please try again shortly. You have not been charged.",
    ),
    "slow_down_title": ("操作太频繁", "Too many attempts"),
    "slow_down_body": ("请稍等一分钟后再试。", "Please wait a minute and try again."),
    "try_again": ("重试", "Try again"),
    "not_yours_title": ("无法支付此订单", "You cannot pay this order"),
    "not_yours_body": (
        "这笔订单指定了其他付款人。",
        "This order is meant to be paid by someone else.",
    ),
    "no_wechat_title": ("请在其他浏览器中打开", "Please open this in another browser"),
    "no_wechat_body": (
        "该商户暂不支持在微信内付款，请复制链接到手机浏览器或电脑打开。",
        "This shop cannot take payments inside WeChat. Open the link in your phone's browser "
        "or on a computer.",
    ),
    "unavailable_title": ("暂时无法付款", "Payment is unavailable"),
    "unavailable_body": (
        "该商户暂不支持这种付款方式，请联系商户。",
        "This shop cannot take this kind of payment right now. Please contact the shop.",
    ),
    "identify_title": ("需要确认您的微信身份", "We need to confirm your WeChat account"),
    "identify_body": (
        "我们暂时无法获取您的微信身份，请确认已允许 Cookie 后重试。",
        "We could not confirm who you are on WeChat. Make sure cookies are allowed, then retry.",
    ),
    "sandbox_note": (
        "沙箱模式：不会产生真实扣款",
        "Sandbox mode: no real money moves",
    ),
    "sandbox_scan": ("在沙箱中模拟扫码", "Simulate the scan in the sandbox"),
    "secured_by": ("由微信支付提供安全保障", "Secured by WeChat Pay"),
    "merchant": ("收款方", "Payee"),
}


def _quality(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        return 0.0
    return value if 0.0 <= value <= 1.0 else 0.0


def negotiate(accept_language: str | None) -> Lang:
    """The best supported language for an ``Accept-Language`` header (RFC 9110 §12.5.4).

    Ties keep the header's order; ``q=0`` means "not this one"; anything else, or nothing,
    means Chinese.

    >>> negotiate("zh-TW;q=0.4, en;q=0.3"), negotiate("en;q=0, zh;q=0")
    ('zh', 'zh')
    """
    best: tuple[float, int, Lang] | None = None
    ranges = (accept_language or "")[:_MAX_HEADER].split(",")[:_MAX_RANGES]
    for position, item in enumerate(ranges):
        tag, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                quality = _quality(value.strip())
        primary = tag.lower().split("-")[0]
        if quality <= 0 or primary not in LANGUAGES:
            continue
        lang: Lang = "zh" if primary == "zh" else "en"
        if best is None or (quality, -position) > (best[0], -best[1]):
            best = (quality, position, lang)
    return best[2] if best is not None else LANGUAGES[0]


class Translator:
    """The texts of one language; call it with a key (a missing key is a bug: ``KeyError``).

    >>> t = Translator("zh")
    >>> t("paid_title"), t.html_lang
    ('支付成功', 'zh-CN')
    """

    def __init__(self, lang: Lang) -> None:
        self.lang: Lang = lang
        self.html_lang = HTML_LANG[lang]
        self._index = LANGUAGES.index(lang)

    def __call__(self, key: str) -> str:
        """The text for ``key`` in this language."""
        return MESSAGES[key][self._index]
