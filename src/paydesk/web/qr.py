"""The Native road's QR code: ``code_url`` as an inline SVG (segno), scaled by CSS.

>>> svg = qr_svg("weixin://wxpay/bizpayurl?pr=Ab3dE9x", title="WeChat Pay")
>>> svg.startswith("<svg viewBox="), "<title>WeChat Pay</title>" in svg
(True, True)
"""

from __future__ import annotations

import segno

__all__ = ["qr_svg"]


def qr_svg(data: str, *, title: str) -> str:
    """An ``<svg>`` element (no size: the page gives it one) encoding ``data``.

    Error correction M, as WeChat's own payment codes use; a two-module quiet zone, the rest
    comes from the white card around it.
    """
    code = segno.make(data, error="m", micro=False)
    svg: str = code.svg_inline(
        scale=1, border=2, omitsize=True, svgclass="qr", lineclass=None, title=title
    )
    return svg
