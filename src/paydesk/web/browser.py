"""Which road a browser takes, read from its ``User-Agent``.

* WeChat's in-app browser (``MicroMessenger``) pays by JSAPI — but not WeCom (``wxwork``),
  whose browser also says ``MicroMessenger`` and has no ``getBrandWCPayRequest``;
* any other phone or tablet browser pays by H5 (WeChat refuses H5 inside WeChat itself,
  PROTOCOL.md §1.10);
* everything else is a computer: Native, a QR code to scan with the phone.

>>> road_for("Mozilla/5.0 (iPhone) AppleWebKit/605 Mobile/15E148 MicroMessenger/8.0.47")
<Road.WECHAT: 'wechat'>
>>> road_for("Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/126.0 Mobile Safari/537.36")
<Road.MOBILE: 'mobile'>
>>> road_for("Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0 Safari/537.36")
<Road.DESKTOP: 'desktop'>
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Literal

__all__ = ["H5Type", "Road", "h5_type", "road_for"]

#: ``scene_info.h5_info.type`` of an H5 prepay.
H5Type = Literal["iOS", "Android", "Wap"]

_MOBILE = re.compile(
    r"mobile|android|iphone|ipad|ipod|harmonyos|openharmony|windows phone|blackberry|opera mini",
    re.IGNORECASE,
)
_IOS = re.compile(r"iphone|ipad|ipod", re.IGNORECASE)
_ANDROID = re.compile(r"android|harmonyos|openharmony", re.IGNORECASE)


class Road(StrEnum):
    """How a browser pays."""

    WECHAT = "wechat"  #: official-account OAuth, then JSAPI ``WeixinJSBridge``
    MOBILE = "mobile"  #: H5: WeChat Pay's ``h5_url``, which hands over to the WeChat app
    DESKTOP = "desktop"  #: Native: a QR code with live status


def road_for(user_agent: str | None) -> Road:
    """The road for this ``User-Agent`` (an absent one is treated as a computer).

    >>> road_for("Mozilla/5.0 (iPhone) Mobile/15E148 wxwork/4.1.22 MicroMessenger/7.0.1")
    <Road.MOBILE: 'mobile'>
    """
    agent = (user_agent or "").lower()
    if "micromessenger" in agent and "wxwork" not in agent:
        return Road.WECHAT
    if _MOBILE.search(agent):
        return Road.MOBILE
    return Road.DESKTOP


def h5_type(user_agent: str | None) -> H5Type:
    """What an H5 prepay declares about the phone (``Wap`` when it is neither iOS nor Android).

    >>> h5_type("Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) Mobile/15E148")
    'iOS'
    """
    agent = user_agent or ""
    if _IOS.search(agent):
        return "iOS"
    if _ANDROID.search(agent):
        return "Android"
    return "Wap"
