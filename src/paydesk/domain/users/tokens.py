"""Session tokens and the digests paydesk stores instead of secrets.

A session token is ``pds_`` + 52 base32 characters: an HMAC-SHA256, under the server's secret
key, of the app and the ``wx.login`` code it was made from. Deriving it (rather than drawing
it at random) is what lets a code submitted twice, or by two requests at once, come back with
the *same* token without the token being stored anywhere: only its SHA-256 is kept, and
without the secret key a code alone gives nothing. Replays are accepted only for a few minutes
(``paydesk.domain.users.login``), as long as WeChat's own code lifetime.

>>> token = session_token(b"k" * 32, "wx5a0d5a0d00000001", "0a1b2c")
>>> token.startswith(TOKEN_PREFIX), len(token)
(True, 56)
>>> token == session_token(b"k" * 32, "wx5a0d5a0d00000001", "0a1b2c")
True
>>> token == session_token(b"k" * 32, "wx5a0d5a0d00000001", "0a1b2d")
False
>>> len(digest(token))
64
"""

from __future__ import annotations

import base64
import hashlib
import hmac

__all__ = [
    "MAX_TOKEN_LENGTH",
    "TOKEN_PREFIX",
    "digest",
    "looks_like_session_token",
    "session_token",
]

TOKEN_PREFIX = "pds_"  # noqa: S105 - a public prefix, not a secret
#: Anything longer is refused before it is hashed or looked up.
MAX_TOKEN_LENGTH = 128
_PURPOSE = b"paydesk.session.v1"


def session_token(secret_key: bytes, appid: str, code: str) -> str:
    """The session token for the ``wx.login`` code ``code`` of app ``appid``."""
    message = b"\x1f".join((_PURPOSE, appid.encode(), code.encode()))
    mac = hmac.new(secret_key, message, hashlib.sha256).digest()
    return TOKEN_PREFIX + base64.b32encode(mac).decode().rstrip("=")


def digest(secret: str) -> str:
    """The stored form of a token or a login code: SHA-256, lowercase hex.

    >>> digest("abc")[:16]
    'ba7816bf8f01cfea'
    """
    return hashlib.sha256(secret.encode()).hexdigest()


def looks_like_session_token(presented: str) -> bool:
    """Whether ``presented`` has a session token's shape (prefix, sane length).

    >>> looks_like_session_token("pds_ABC"), looks_like_session_token("pdk_ABC")
    (True, False)
    """
    return presented.startswith(TOKEN_PREFIX) and len(presented) <= MAX_TOKEN_LENGTH
