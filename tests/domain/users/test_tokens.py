"""Session tokens derived from the code, and the digests stored instead of secrets."""

from __future__ import annotations

import base64
import hashlib
import hmac

from hypothesis import given
from hypothesis import strategies as st

from paydesk.domain.users.tokens import (
    MAX_TOKEN_LENGTH,
    TOKEN_PREFIX,
    digest,
    looks_like_session_token,
    session_token,
)

KEY = b"0123456789abcdef0123456789abcdef"
APPID = "wx5a0d5a0d00000001"


def test_a_token_is_the_prefixed_base32_hmac_of_app_and_code() -> None:
    mac = hmac.new(KEY, b"paydesk.session.v1\x1fwx5a0d5a0d00000001\x1fcode-1", hashlib.sha256)
    expected = "pds_" + base64.b32encode(mac.digest()).decode().rstrip("=")
    assert session_token(KEY, APPID, "code-1") == expected
    assert len(expected) == 56


codes = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=128)


@given(code=codes, other=codes)
def test_each_code_app_and_key_has_its_own_token(code: str, other: str) -> None:
    token = session_token(KEY, APPID, code)
    assert token.startswith(TOKEN_PREFIX)
    assert looks_like_session_token(token)
    assert token == session_token(KEY, APPID, code)
    assert (token == session_token(KEY, APPID, other)) == (code == other)
    assert token != session_token(KEY, "wx5a0d5a0d00000002", code)
    assert token != session_token(b"another key", APPID, code)


def test_separators_keep_app_and_code_apart() -> None:
    assert session_token(KEY, "wxA", "Bc") != session_token(KEY, "wxAB", "c")


def test_digest_is_sha256_hex() -> None:
    assert digest("pds_X") == hashlib.sha256(b"pds_X").hexdigest()


def test_token_shape() -> None:
    assert not looks_like_session_token("pdk_" + "A" * 52)
    assert not looks_like_session_token(TOKEN_PREFIX + "A" * MAX_TOKEN_LENGTH)
    assert looks_like_session_token(TOKEN_PREFIX + "A" * (MAX_TOKEN_LENGTH - 4))
