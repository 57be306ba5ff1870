"""The QR SVG draws exactly the modules of the code for the data, at error level M."""

from __future__ import annotations

import re

import segno

from paydesk.web.qr import qr_svg

CODE_URL = "weixin://wxpay/bizpayurl?pr=Ab3dE9x"


def modules_of(svg: str) -> set[tuple[int, int]]:
    """Read segno's path back: ``M``/``m`` move, ``h`` draws a run of dark modules."""
    path = re.search(r' d="([^"]+)"', svg)
    assert path
    dark: set[tuple[int, int]] = set()
    x = y = 0.0
    for op, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", path.group(1)):
        if op == "M":
            x, y = float(a), float(b)
        elif op == "m":
            x, y = x + float(a), y + float(b)
        else:
            length = int(float(a))
            dark.update((int(x) + i, int(y)) for i in range(length))
            x += length
    return dark


def test_the_svg_encodes_the_code_url() -> None:
    svg = qr_svg(CODE_URL, title="Scan")
    code = segno.make(CODE_URL, error="m", micro=False)
    border = 2
    expected = {
        (col + border, row + border)
        for row, line in enumerate(code.matrix)
        for col, value in enumerate(line)
        if value
    }
    assert modules_of(svg) == expected
    width = code.symbol_size(border=border)[0]
    assert svg.startswith(f'<svg viewBox="0 0 {width} {width}" class="qr">')
    assert code.error == "M"


def test_no_fixed_size_and_an_escaped_title() -> None:
    svg = qr_svg(CODE_URL, title="<Pay & go>")
    assert "width=" not in svg.split(">")[0]
    assert "<title>&lt;Pay &amp; go&gt;</title>" in svg


def test_another_code_another_picture() -> None:
    assert qr_svg(CODE_URL, title="t") != qr_svg(CODE_URL + "1", title="t")
