"""Shared data for the message-push tests: the golden vectors, copied verbatim with ``source``.

``vectors/wxbizmsgcrypt_and_push_signature.json`` is
/work/shared/wechat/vectors/wxbizmsgcrypt_and_push_signature.json: the official message-push
page's worked examples (Token ``AAAAA``), the official WXBizMsgCrypt sample, wechatpy's WeCom
vectors (same algorithm, the corp id in the appid slot) and wechatpy's check_signature case.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "wxbizmsgcrypt_and_push_signature.json").read_text(
        encoding="utf-8"
    )
)
CASES: dict[str, dict[str, Any]] = {case["id"]: case for case in VECTORS["cases"]}


@pytest.fixture(scope="session")
def case() -> dict[str, dict[str, Any]]:
    """Every vector case by its id."""
    return CASES
