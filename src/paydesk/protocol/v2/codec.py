"""Pay v2 bodies on the wire: flat ``<xml>`` in, signed ``<xml>`` out, amounts as integer fen.

Every v2 message is one flat ``<xml>`` element of text fields (PROTOCOL.md §2.2). This module
turns bytes into that ``dict[str, str]`` with the hardened parser of
:mod:`paydesk.protocol.xmlcodec`, renders signed bodies, and reads amounts strictly.

>>> body = signed_xml({"return_code": "SUCCESS", "nonce_str": "n"}, key="k", sign_type="MD5")
>>> fields = parse_v2_fields(body.encode())
>>> fields["return_code"], len(fields["sign"])
('SUCCESS', 32)
>>> fen(fields | {"total_fee": "100"}, "total_fee")
100
"""

from __future__ import annotations

from collections.abc import Mapping

from paydesk.protocol.errors import MalformedInput
from paydesk.protocol.v2.sign import SignType, sign_v2
from paydesk.protocol.xmlcodec import DEFAULT_MAX_BYTES, parse_xml, to_xml

__all__ = ["fen", "optional_fen", "optional_text", "parse_v2_fields", "required_text", "signed_xml"]

# 18 digits always fit in a signed 64-bit integer, far above any real amount in fen.
_MAX_DIGITS = 18


def parse_v2_fields(
    body: bytes | str, *, max_bytes: int = DEFAULT_MAX_BYTES, root: str = "xml"
) -> dict[str, str]:
    """Parse a flat v2 XML body into ``{tag: text}``; nested elements are refused.

    >>> parse_v2_fields(b"<xml><return_code><![CDATA[FAIL]]></return_code></xml>")
    {'return_code': 'FAIL'}
    """
    fields: dict[str, str] = parse_xml(body, max_bytes=max_bytes, root=root, max_depth=1)
    return fields


def signed_xml(fields: Mapping[str, str | int], *, key: str, sign_type: SignType) -> str:
    """Render ``fields`` plus their ``sign`` as a v2 XML body (strings in CDATA).

    A ``sign`` already in ``fields`` is replaced. ``sign_type`` is not added: put
    ``"sign_type": "HMAC-SHA256"`` in ``fields`` when the request must name it.

    >>> signed_xml({"a": "1"}, key="k", sign_type="MD5")
    '<xml><a><![CDATA[1]]></a><sign><![CDATA[AFFDCC88244C83F871BFE4854BE9C1A5]]></sign></xml>'
    """
    unsigned = {name: value for name, value in fields.items() if name != "sign"}
    return to_xml({**unsigned, "sign": sign_v2(unsigned, key, sign_type)})


def required_text(fields: Mapping[str, str], name: str) -> str:
    """``fields[name]``, or ``MalformedInput`` naming the field when it is absent or empty.

    >>> required_text({"appid": "wx1"}, "appid")
    'wx1'
    """
    value = fields.get(name)
    if not value:
        raise MalformedInput(f"v2 field {name} is missing", field=name)
    return value


def optional_text(fields: Mapping[str, str], name: str) -> str | None:
    """``fields[name]``, with absent and empty both read as ``None``.

    >>> optional_text({"attach": ""}, "attach") is None
    True
    """
    return fields.get(name) or None


def fen(fields: Mapping[str, str], name: str) -> int:
    """A required amount in integer fen: ASCII digits only, no sign, no spaces, no decimals.

    >>> fen({"total_fee": "1"}, "total_fee")
    1
    """
    text = required_text(fields, name)
    if not (text.isascii() and text.isdigit() and len(text) <= _MAX_DIGITS):
        raise MalformedInput(f"v2 field {name} is not a whole number of fen: {text!r}", field=name)
    return int(text)


def optional_fen(fields: Mapping[str, str], name: str) -> int | None:
    """Like :func:`fen`, but ``None`` when the field is absent or empty.

    >>> optional_fen({}, "cash_fee") is None
    True
    """
    return fen(fields, name) if fields.get(name) else None
