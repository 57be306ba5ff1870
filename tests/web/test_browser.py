"""The User-Agent table: which road each browser takes, and the H5 device type."""

from __future__ import annotations

import pytest

from paydesk.web.browser import Road, h5_type, road_for

AGENTS = {
    "wechat-ios": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
        "like Gecko) Mobile/15E148 MicroMessenger/8.0.49(0x18003129) NetType/WIFI Language/zh_CN"
    ),
    "wechat-android": (
        "Mozilla/5.0 (Linux; Android 13; V2055A Build/TP1A.220624.014; wv) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160083 "
        "MMWEBSDK/20231202 MMWEBID/1 MicroMessenger/8.0.47.2560(0x28002F36) WeChat/arm64 Weixin"
    ),
    "wechat-windows": (
        "Mozilla/5.0 (Windows NT 10.0; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/81.0.4044.138 Safari/537.36 NetType/WIFI MicroMessenger/7.0.20.1781(0x6700143B) "
        "WindowsWechat(0x63090a13) XWEB/8555"
    ),
    "wecom-ios": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 16_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) Mobile/15E148 wxwork/4.1.22 MicroMessenger/7.0.1 Language/zh ColorScheme/Light"
    ),
    "wecom-windows": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/86.0.4240.198 Safari/537.36 wxwork/4.1.20 (MicroMessenger/6.2) WindowsWechat"
    ),
    "safari-iphone": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
        "like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
    ),
    "chrome-android": (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Mobile Safari/537.36"
    ),
    "ipad": (
        "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.5 Mobile/15E148 Safari/604.1"
    ),
    "huawei-harmony": (
        "Mozilla/5.0 (Phone; OpenHarmony 4.0) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/99.0.4844.88 Safari/537.36 ArkWeb/4.1.6.1 Mobile HuaweiBrowser/5.0.3.300"
    ),
    "chrome-windows": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36"
    ),
    "safari-mac": (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.5 Safari/605.1.15"
    ),
    "firefox-linux": "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "curl": "curl/8.5.0",
    "empty": "",
}


@pytest.mark.parametrize(
    ("agent", "road", "device"),
    [
        ("wechat-ios", Road.WECHAT, "iOS"),
        ("wechat-android", Road.WECHAT, "Android"),
        ("wechat-windows", Road.WECHAT, "Wap"),
        ("wecom-ios", Road.MOBILE, "iOS"),
        ("wecom-windows", Road.DESKTOP, "Wap"),
        ("safari-iphone", Road.MOBILE, "iOS"),
        ("chrome-android", Road.MOBILE, "Android"),
        ("ipad", Road.MOBILE, "iOS"),
        ("huawei-harmony", Road.MOBILE, "Android"),
        ("chrome-windows", Road.DESKTOP, "Wap"),
        ("safari-mac", Road.DESKTOP, "Wap"),
        ("firefox-linux", Road.DESKTOP, "Wap"),
        ("curl", Road.DESKTOP, "Wap"),
        ("empty", Road.DESKTOP, "Wap"),
    ],
)
def test_road_and_device_table(agent: str, road: Road, device: str) -> None:
    assert road_for(AGENTS[agent]) == road
    assert h5_type(AGENTS[agent]) == device


def test_no_user_agent_at_all_is_a_computer() -> None:
    assert road_for(None) == Road.DESKTOP
    assert h5_type(None) == "Wap"


def test_case_does_not_matter() -> None:
    assert road_for("mozilla/5.0 (iphone) micromessenger/8.0") == Road.WECHAT
