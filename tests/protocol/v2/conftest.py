"""Shared data for the Pay v2 tests: the golden vectors, copied verbatim with their ``source``.

``vectors/v2_sign_md5_hmac.json`` is /work/shared/wechat/vectors/v2_sign_md5_hmac.json: the
official MD5/HMAC-SHA256 worked example (jsapi.php?chapter=4_3), the v2 requestPayment paySign
example (wxa_api.php?chapter=7_7) and three shape-only official XML samples.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "v2_sign_md5_hmac.json").read_text(encoding="utf-8")
)


@pytest.fixture(scope="session")
def official() -> dict[str, Any]:
    """The official MD5 / HMAC-SHA256 worked example."""
    case: dict[str, Any] = VECTORS["cases"][0]
    assert case["id"] == "official_example"
    return case


@pytest.fixture(scope="session")
def pay_sign_case() -> dict[str, Any]:
    """The official v2 ``wx.requestPayment`` paySign example."""
    case: dict[str, Any] = VECTORS["cases"][1]
    assert case["id"] == "miniprogram_requestPayment_paySign_v2"
    return case


@pytest.fixture(scope="session")
def samples() -> dict[str, str]:
    """Official XML samples signed with an unpublished key: for parsing only."""
    shapes: dict[str, str] = VECTORS["shape_only_samples"]
    return shapes
