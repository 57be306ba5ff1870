"""The default picture of the detour's link card: a small PNG drawn here, no image files.

WeChat shows a link card's ``thumb_url`` next to its title and takes JPG or PNG only, so the
picture is a PNG: a white coin on WeChat Pay green, 96 × 96. ``PAYDESK_PUSH_THUMB_URL``
replaces it with the merchant's own logo.

>>> png = thumb_png()
>>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n", len(png) < 2048
(True, True)
"""

from __future__ import annotations

import struct
import zlib
from functools import cache

__all__ = ["THUMB_PATH", "thumb_png"]

#: Where the API serves the picture.
THUMB_PATH = "/wechat/thumb.png"

_SIZE = 96
_GREEN = bytes((0x07, 0xC1, 0x60))
_WHITE = bytes((0xFF, 0xFF, 0xFF))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _row(y: int) -> bytes:
    centre, outer, inner = (_SIZE - 1) / 2, 30.0, 22.0
    pixels = bytearray(b"\x00")  # filter type: none
    for x in range(_SIZE):
        distance = ((x - centre) ** 2 + (y - centre) ** 2) ** 0.5
        pixels += _WHITE if inner <= distance <= outer or distance <= 8 else _GREEN
    return bytes(pixels)


@cache
def thumb_png() -> bytes:
    """The picture's bytes (an 8-bit RGB PNG, made once)."""
    header = struct.pack(">IIBBBBB", _SIZE, _SIZE, 8, 2, 0, 0, 0)
    raw = b"".join(_row(y) for y in range(_SIZE))
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )
