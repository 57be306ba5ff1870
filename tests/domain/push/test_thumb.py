"""paydesk.domain.push.thumb: a valid PNG, drawn as described."""

from __future__ import annotations

import struct
import zlib

from paydesk.domain.push.thumb import thumb_png


def chunks(png: bytes) -> dict[bytes, bytes]:
    found: dict[bytes, bytes] = {}
    offset = 8
    while offset < len(png):
        (length,) = struct.unpack_from(">I", png, offset)
        kind = png[offset + 4 : offset + 8]
        data = png[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack_from(">I", png, offset + 8 + length)
        assert crc == zlib.crc32(kind + data), kind
        found[kind] = data
        offset += 12 + length
    return found


def test_the_thumb_is_a_96_pixel_rgb_png_with_a_white_coin_on_green() -> None:
    png = thumb_png()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    parts = chunks(png)
    assert list(parts) == [b"IHDR", b"IDAT", b"IEND"]
    width, height, depth, colour, *_ = struct.unpack(">IIBBBBB", parts[b"IHDR"])
    assert (width, height, depth, colour) == (96, 96, 8, 2)
    raw = zlib.decompress(parts[b"IDAT"])
    stride = 1 + 96 * 3
    assert len(raw) == 96 * stride

    def pixel(x: int, y: int) -> bytes:
        start = y * stride + 1 + x * 3
        return raw[start : start + 3]

    assert pixel(0, 0) == bytes((0x07, 0xC1, 0x60))  # corner: green
    assert pixel(48, 48) == b"\xff\xff\xff"  # centre: the coin's dot
    assert pixel(48, 48 - 26) == b"\xff\xff\xff"  # its ring
    assert pixel(48, 48 - 15) == bytes((0x07, 0xC1, 0x60))  # between the two
    assert thumb_png() is png  # made once
