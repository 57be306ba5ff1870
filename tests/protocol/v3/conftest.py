"""Shared fixtures for the APIv3 tests: the golden vectors and keys generated once per session.

Vectors are verbatim copies of /work/shared/wechat/vectors/*.json (each keeps its ``source``).
Keys for property tests are generated here once, because RSA key generation is slow.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from paydesk.protocol.keys import load_private_key

VECTORS = Path(__file__).parent / "vectors"


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="session")
def vector() -> Callable[[str], dict[str, Any]]:
    """Load one vector file by name."""
    return _load


@pytest.fixture(scope="session")
def official_doc() -> dict[str, Any]:
    """v3_rsa_official_doc_signatures.json (pay.weixin.qq.com doc 4012365336 / 4012365334)."""
    return _load("v3_rsa_official_doc_signatures.json")


@pytest.fixture(scope="session")
def official_key(official_doc: dict[str, Any]) -> RSAPrivateKey:
    """The official documentation test key (PKCS#1), used as the merchant key."""
    return load_private_key(official_doc["key"]["private_key_pem"])


@pytest.fixture(scope="session")
def platform_key() -> RSAPrivateKey:
    """A fresh 2048-bit key standing in for WeChat Pay's platform key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def other_key() -> RSAPrivateKey:
    """A second fresh 2048-bit key: the wrong key for every signature."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)
