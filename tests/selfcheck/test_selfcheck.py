"""The shipped known answers: all pass, and a wrong answer is reported, not raised."""

from __future__ import annotations

import json
from typing import Any

import pytest

from paydesk import selfcheck


def test_every_known_answer_passes() -> None:
    results = selfcheck.run_all()
    assert len(results) == 17
    assert [r.name for r in results if not r.passed] == []


def test_a_wrong_vector_is_reported_as_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    data: dict[str, Any] = selfcheck._load()
    data["v2_sign"]["md5_sign"] = "0" * 32
    data["v3_aead"][0]["ciphertext"] = "AAAA" + data["v3_aead"][0]["ciphertext"][4:]
    monkeypatch.setattr(selfcheck, "_load", lambda: json.loads(json.dumps(data)))
    failed = {r.name: r.detail for r in selfcheck.run_all() if not r.passed}
    assert failed["MD5 sign"] == "output differs"
    assert failed["AEAD_AES_256_GCM (java_message)"].startswith("DecryptError")
