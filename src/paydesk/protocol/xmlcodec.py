"""The one XML parser and writer paydesk uses: Pay v2 bodies and message-push bodies.

WeChat's XML is a flat (sometimes two-level) bag of elements under one root, text or CDATA,
no attributes that matter. That is all this module reads, and it refuses everything else that
XML can do, *before* anything is verified: the 2018 XXE in WeChat's own Java SDK came from
parsing a notification with DTDs and external entities switched on
(https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=23_5; PROTOCOL.md §5).

Refused, each with its own error class:

- a body over ``max_bytes`` → :class:`InputTooLarge`, before a single byte is parsed;
- any ``<!DOCTYPE``, DTD, entity declaration, external or undefined entity reference →
  :class:`HostileXML` (only ``&lt; &gt; &amp; &quot; &apos;`` and character references pass);
- bytes that are not UTF-8, a declared encoding other than UTF-8, the wrong root element,
  a repeated tag, text mixed with child elements, nesting deeper than ``max_depth`` →
  :class:`MalformedInput`.

It is built on :mod:`xml.parsers.expat` directly, with a small tree builder, because the
payment-notification path is hot and ``xmltodict``/ElementTree do much more than we need.

>>> parse_xml(b"<xml><total_fee>1</total_fee><body><![CDATA[a&b]]></body></xml>")
{'total_fee': '1', 'body': 'a&b'}
>>> to_xml({"return_code": "SUCCESS", "total_fee": 1})
'<xml><return_code><![CDATA[SUCCESS]]></return_code><total_fee>1</total_fee></xml>'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NoReturn, TypeAlias
from xml.parsers import expat

from paydesk.protocol.errors import HostileXML, InputTooLarge, MalformedInput

__all__ = ["DEFAULT_MAX_BYTES", "XmlValue", "parse_xml", "to_xml"]

#: The body size cap used when the caller gives none: a real notification is about 1 KB.
DEFAULT_MAX_BYTES = 65536

#: What :func:`to_xml` writes: text, a whole number, or a nested element.
XmlValue: TypeAlias = "str | int | Mapping[str, XmlValue]"

_UNDEFINED_ENTITY = expat.errors.codes[expat.errors.XML_ERROR_UNDEFINED_ENTITY]
_TAG = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
# Characters XML 1.0 cannot carry at all, not even escaped (https://www.w3.org/TR/xml/#charsets).
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _refuse_dtd(*_: object) -> NoReturn:
    raise HostileXML("XML with a DOCTYPE, DTD or entity declaration is refused")


def _check_declaration(_version: str, encoding: str | None, _standalone: int) -> None:
    if encoding is not None and encoding.lower() not in ("utf-8", "utf8"):
        raise MalformedInput(f"XML must be UTF-8, it declares {encoding!r}")


class _TreeBuilder:
    """Expat callbacks that build nested dicts of text; one instance per document.

    Character data goes straight into ``texts`` (``list.append`` as the handler: no Python
    frame per text run). At any moment ``texts`` holds the text seen since the last tag, so a
    start tag checks that its parent had only whitespace so far, and an end tag either takes
    the text as the leaf's value or checks it was whitespace between children.
    """

    __slots__ = ("_open", "_root", "max_depth", "result", "texts")

    def __init__(self, root: str | None, max_depth: int) -> None:
        self._root = root
        self.max_depth = max_depth
        # The children of each open element; None while it has none (a leaf so far).
        self._open: list[dict[str, Any] | None] = []
        self.texts: list[str] = []
        self.result: dict[str, Any] = {}

    def start(self, name: str, _attributes: object) -> None:
        texts = self.texts
        if texts:
            if not "".join(texts).isspace():
                raise MalformedInput(f"XML has text next to the element <{name}>", field=name)
            texts.clear()
        opened = self._open
        depth = len(opened)
        if depth:
            if depth > self.max_depth:
                raise MalformedInput(f"XML nested deeper than {self.max_depth} levels", field=name)
            opened.append(None)
        elif self._root is None or name == self._root:
            opened.append(self.result)
        else:
            raise MalformedInput(f"XML root is <{name}>, expected <{self._root}>", field=name)

    def end(self, name: str) -> None:
        opened = self._open
        texts = self.texts
        children = opened.pop()
        if children is None:
            value: str | dict[str, Any] = "".join(texts)
        elif not texts or "".join(texts).isspace():
            value = children
        else:
            raise MalformedInput(f"<{name}> mixes text with child elements", field=name)
        texts.clear()
        if opened:
            parent = opened[-1]
            if parent is None:  # the first child to end creates its parent's dict
                parent = opened[-1] = {}
            elif name in parent:
                raise MalformedInput(f"XML repeats the tag <{name}>", field=name)
            parent[name] = value


def _as_bytes(data: bytes | str, max_bytes: int) -> bytes:
    if len(data) > max_bytes:  # a character is at least one byte
        unit = "bytes" if isinstance(data, bytes) else "characters"
        raise InputTooLarge(f"XML body of {len(data)} {unit} is over the {max_bytes}-byte cap")
    if isinstance(data, bytes):
        return data
    try:
        raw = data.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MalformedInput("XML text cannot be encoded as UTF-8") from exc
    if len(raw) > max_bytes:
        raise InputTooLarge(f"XML body of {len(raw)} bytes is over the {max_bytes}-byte cap")
    return raw


def parse_xml(
    data: bytes | str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    root: str | None = "xml",
    max_depth: int = 8,
) -> dict[str, Any]:
    """Parse WeChat-style XML into a dict of the root's children.

    Leaf elements become ``str`` (CDATA or text, entities of the five predefined kinds
    resolved), elements with children become nested dicts; attributes are ignored.
    ``root=None`` accepts any root element. ``max_depth`` counts levels below the root
    (1 = flat). See the module docstring for everything that is refused.

    >>> parse_xml("<root><a>1</a><b><c>x</c></b><d/></root>", root="root")
    {'a': '1', 'b': {'c': 'x'}, 'd': ''}
    >>> parse_xml(b"<xml><a>1</a><a>2</a></xml>")
    Traceback (most recent call last):
    ...
    paydesk.protocol.errors.MalformedInput: XML repeats the tag <a>
    """
    raw = _as_bytes(data, max_bytes)
    builder = _TreeBuilder(root, max_depth)
    # Forcing UTF-8 here makes expat ignore whatever encoding the document declares;
    # _check_declaration then refuses a declaration that disagrees.
    parser = expat.ParserCreate("UTF-8")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    parser.UnparsedEntityDeclHandler = _refuse_dtd
    parser.ExternalEntityRefHandler = _refuse_dtd
    parser.SkippedEntityHandler = _refuse_dtd
    parser.XmlDeclHandler = _check_declaration
    parser.buffer_text = True
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.texts.append
    try:
        parser.Parse(raw, True)
    except expat.ExpatError as exc:
        where = f"line {exc.lineno}, column {exc.offset}"
        if exc.code == _UNDEFINED_ENTITY:
            raise HostileXML(f"XML refers to an undeclared entity ({where})") from exc
        raise MalformedInput(
            f"not well-formed XML: {expat.ErrorString(exc.code)} ({where})"
        ) from exc
    return builder.result


def _check_tag(tag: str) -> str:
    if not _TAG.fullmatch(tag):
        raise MalformedInput(f"{tag!r} cannot be an XML tag", field=tag)
    return tag


def _check_text(text: str, field: str) -> str:
    if _NOT_XML_CHAR.search(text):
        raise MalformedInput("text holds a character XML cannot carry", field=field)
    return text


def _cdata(text: str) -> str:
    # A literal "]]>" would close the section early: end it after "]]", reopen for ">".
    # "\r" would come back as "\n" (XML end-of-line handling applies inside CDATA too), so it
    # travels as a character reference between two sections.
    inner = text.replace("]]>", "]]]]><![CDATA[>").replace("\r", "]]>&#13;<![CDATA[")
    return f"<![CDATA[{inner}]]>"


def _escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    )


def _render(fields: Mapping[str, XmlValue], parts: list[str], cdata: bool) -> None:
    for key, value in fields.items():
        tag = _check_tag(key)
        if isinstance(value, str):
            text = _check_text(value, key)
            body = _cdata(text) if cdata else _escape(text)
        elif isinstance(value, bool):
            raise MalformedInput("a bool is not an XML value: pass a str", field=key)
        elif isinstance(value, int):
            body = str(value)
        elif isinstance(value, Mapping):
            nested: list[str] = []
            _render(value, nested, cdata)
            body = "".join(nested)
        else:
            raise MalformedInput(f"{type(value).__name__} is not an XML value", field=key)
        parts.append(f"<{tag}>{body}</{tag}>")


def to_xml(fields: Mapping[str, XmlValue], *, root: str = "xml", cdata: bool = True) -> str:
    """Render ``fields`` as ``<root>…</root>``, in the mapping's order, with no declaration.

    Strings go in CDATA (or escaped, with ``cdata=False``), ints as plain text, nested
    mappings as child elements. The result always parses back to the same fields with
    :func:`parse_xml` (ints come back as their decimal text).

    >>> to_xml({"a": "x]]>y"})
    '<xml><a><![CDATA[x]]]]><![CDATA[>y]]></a></xml>'
    >>> to_xml({"a": "<b>", "n": 2}, root="root", cdata=False)
    '<root><a>&lt;b&gt;</a><n>2</n></root>'
    """
    parts = [f"<{_check_tag(root)}>"]
    _render(fields, parts, cdata)
    parts.append(f"</{root}>")
    return "".join(parts)
