"""APIv3 hosts and paths, as data shared by the client and the sandbox (PROTOCOL.md §1.1, §1.7).

Each :class:`Endpoint` is a method, a path template and its doc page. ``path()`` fills the
template with percent-encoded segments and appends the query: the result is the exact
request-URI that is sent *and* signed (wechatpay-go signs ``URL.RequestURI()``).

>>> QUERY_BY_OUT_TRADE_NO.path(out_trade_no="T|0001*", mchid="1900007291")
'/v3/pay/transactions/out-trade-no/T%7C0001%2A?mchid=1900007291'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Literal
from urllib.parse import quote, urlencode

from paydesk.protocol.errors import MalformedInput

__all__ = [
    "API_BACKUP_HOST",
    "API_HOST",
    "CERTIFICATES",
    "CLOSE",
    "PREPAY",
    "QUERY_BY_OUT_TRADE_NO",
    "QUERY_BY_TRANSACTION_ID",
    "REFUND_ABNORMAL",
    "REFUND_CREATE",
    "REFUND_QUERY",
    "TRADEBILL",
    "Channel",
    "Endpoint",
    "abnormal_refund_path",
    "close_path",
    "prepay_path",
    "query_by_out_trade_no_path",
    "query_by_transaction_id_path",
    "refund_query_path",
    "tradebill_path",
]

#: Primary APIv3 host (wechatpay-go ``core/consts``).
API_HOST = "https://api.mch.weixin.qq.com"
#: Backup host in another region, for when the primary cannot be reached.
API_BACKUP_HOST = "https://api2.mch.weixin.qq.com"

#: The prepay channels; mini programs use ``jsapi`` too.
Channel = Literal["jsapi", "app", "h5", "native"]

_DOC = "https://pay.weixin.qq.com/doc/v3/merchant/"
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True)
class Endpoint:
    """One APIv3 operation: ``Endpoint("GET", "/v3/x/{id}", query=("mchid",))``."""

    method: Literal["GET", "POST"]
    template: str
    query: tuple[str, ...] = ()
    doc: str = ""

    @property
    def segments(self) -> tuple[str, ...]:
        """Names of the template's path placeholders, in order."""
        return tuple(_PLACEHOLDER.findall(self.template))

    def path(self, **values: str) -> str:
        """The request-URI: placeholders percent-encoded (``/`` too), then the query.

        >>> CLOSE.path(out_trade_no="a/b")
        '/v3/pay/transactions/out-trade-no/a%2Fb/close'
        """
        expected = set(self.segments) | set(self.query)
        if set(values) != expected:
            raise MalformedInput(
                f"{self.template} takes {sorted(expected)}, got {sorted(values)}", field="path"
            )
        for name, value in values.items():
            if not value:
                raise MalformedInput(f"{name} must not be empty", field=name)
        path = _PLACEHOLDER.sub(lambda m: quote(values[m.group(1)], safe=""), self.template)
        if not self.query:
            return path
        return path + "?" + urlencode([(name, values[name]) for name in self.query])


# Doc pages are given where PROTOCOL.md §1.7 pins the page to the operation.
PREPAY: Mapping[Channel, Endpoint] = MappingProxyType(
    {
        "jsapi": Endpoint("POST", "/v3/pay/transactions/jsapi", doc=_DOC + "4012791897"),
        "app": Endpoint("POST", "/v3/pay/transactions/app"),
        "h5": Endpoint("POST", "/v3/pay/transactions/h5"),
        "native": Endpoint("POST", "/v3/pay/transactions/native"),
    }
)
QUERY_BY_OUT_TRADE_NO = Endpoint(
    "GET", "/v3/pay/transactions/out-trade-no/{out_trade_no}", ("mchid",)
)
QUERY_BY_TRANSACTION_ID = Endpoint("GET", "/v3/pay/transactions/id/{transaction_id}", ("mchid",))
CLOSE = Endpoint(
    "POST", "/v3/pay/transactions/out-trade-no/{out_trade_no}/close", doc=_DOC + "4012791901"
)
REFUND_CREATE = Endpoint("POST", "/v3/refund/domestic/refunds", doc=_DOC + "4012791903")
REFUND_QUERY = Endpoint(
    "GET", "/v3/refund/domestic/refunds/{out_refund_no}", doc=_DOC + "4012791904"
)
REFUND_ABNORMAL = Endpoint(
    "POST",
    "/v3/refund/domestic/refunds/{refund_id}/apply-abnormal-refund",
    doc="https://pay.weixin.qq.com/docs/merchant/apis/refund/refunds/create-abnormal-refund.html",
)
CERTIFICATES = Endpoint("GET", "/v3/certificates")
TRADEBILL = Endpoint("GET", "/v3/bill/tradebill", ("bill_date", "bill_type"))


def prepay_path(channel: Channel) -> str:
    """``/v3/pay/transactions/{channel}``.

    >>> prepay_path("native")
    '/v3/pay/transactions/native'
    """
    return PREPAY[channel].path()


def query_by_out_trade_no_path(out_trade_no: str, *, mchid: str) -> str:
    """Query by our order number (works before payment too)."""
    return QUERY_BY_OUT_TRADE_NO.path(out_trade_no=out_trade_no, mchid=mchid)


def query_by_transaction_id_path(transaction_id: str, *, mchid: str) -> str:
    """Query by WeChat's transaction id (paid orders only)."""
    return QUERY_BY_TRANSACTION_ID.path(transaction_id=transaction_id, mchid=mchid)


def close_path(out_trade_no: str) -> str:
    """Close an unpaid order; the body is ``{"mchid": …}`` and success is 204."""
    return CLOSE.path(out_trade_no=out_trade_no)


def refund_query_path(out_refund_no: str) -> str:
    """Query one refund by our refund number."""
    return REFUND_QUERY.path(out_refund_no=out_refund_no)


def abnormal_refund_path(refund_id: str) -> str:
    """Settle an ABNORMAL refund another way; ``refund_id`` is WeChat's refund id.

    >>> abnormal_refund_path("50000000382019052709732678859")
    '/v3/refund/domestic/refunds/50000000382019052709732678859/apply-abnormal-refund'
    """
    return REFUND_ABNORMAL.path(refund_id=refund_id)


def tradebill_path(bill_date: date, bill_type: str = "ALL") -> str:
    """The daily trade bill request (answer: a download URL).

    >>> tradebill_path(date(2024, 1, 31))
    '/v3/bill/tradebill?bill_date=2024-01-31&bill_type=ALL'
    """
    return TRADEBILL.path(bill_date=bill_date.isoformat(), bill_type=bill_type)
