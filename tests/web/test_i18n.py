"""Chinese and English by Accept-Language; every text exists in both."""

from __future__ import annotations

import pytest

from paydesk.web.i18n import LANGUAGES, MESSAGES, Translator, negotiate


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        (None, "zh"),
        ("", "zh"),
        ("en", "en"),
        ("en-US,en;q=0.9", "en"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("zh-TW", "zh"),
        ("zh-Hant-HK;q=0.9, en-GB;q=1.0", "en"),
        ("fr-FR,fr;q=0.9,en;q=0.5", "en"),
        ("fr-FR,de", "zh"),
        ("en;q=0.5, zh;q=0.5", "en"),  # a tie keeps the header's order
        ("en;q=0", "zh"),
        ("EN-us", "en"),
        ("en;q=abc", "zh"),  # an unreadable weight counts as zero
        ("en;q=2", "zh"),
        ("*", "zh"),
        (";;;,,,", "zh"),
    ],
)
def test_negotiation(header: str | None, lang: str) -> None:
    assert negotiate(header) == lang


def test_a_huge_header_is_read_only_in_part() -> None:
    assert negotiate("fr," * 5000 + "en") == "zh"


def test_every_text_is_translated_and_distinct() -> None:
    for key, texts in MESSAGES.items():
        assert len(texts) == len(LANGUAGES), key
        assert all(text.strip() for text in texts), key
        chinese, english = texts
        assert chinese != english, key
        assert any("\u4e00" <= ch <= "\u9fff" for ch in chinese), key
        assert english.isascii() or "“" in english or "…" in english or "—" in english, key


def test_translator() -> None:
    english = Translator("en")
    assert english("expired_title") == "This order has expired"
    assert english.html_lang == "en"
    with pytest.raises(KeyError):
        english("no-such-key")
