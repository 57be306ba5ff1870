"""paydesk.protocol.keys against the SDK key/certificate vectors, and every refusal path."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.x509.oid import NameOID

from paydesk.protocol.errors import KeyFormatError, MalformedInput
from paydesk.protocol.keys import (
    certificate_public_key,
    certificate_serial,
    is_public_key_id,
    load_certificate,
    load_private_key,
    load_public_key,
    make_self_signed_certificate,
    private_key_pem,
    public_key_matches,
    public_key_pem,
)

VECTORS = Path(__file__).parent / "v3" / "vectors"

# Self-generated with `openssl genpkey -algorithm SM2` / `openssl req -x509 -sm3` (OpenSSL 3):
# WeChat also issues SM2 platform certificates, which we must refuse cleanly.
SM2_PRIVATE = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqBHM9VAYItBG0wawIBAQQg0CgUTobx7igYNITc
sonMo0D+lhRxCD8ByPI5pR6mo32hRANCAASt/UyOFPdomoLc0Rc2xMMGL1TYecFG
L0N5jP6m55IL6QWfzIb1MMt5iv6UqiUWLMmhMQ045TVEuWJn2fDmI7zC
-----END PRIVATE KEY-----
"""
SM2_PUBLIC = """-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoEcz1UBgi0DQgAErf1MjhT3aJqC3NEXNsTDBi9U2HnB
Ri9DeYz+pueSC+kFn8yG9TDLeYr+lKolFizJoTENOOU1RLliZ9nw5iO8wg==
-----END PUBLIC KEY-----
"""
SM2_CERTIFICATE = """-----BEGIN CERTIFICATE-----
MIIBdzCCAR2gAwIBAgICEjQwCgYIKoEcz1UBg3UwGjEYMBYGA1UEAwwPVGVucGF5
IFNNMiB0ZXN0MB4XDTI2MTEyMjIwMjQ0OVoXDTM2MTExOTIwMjQ0OVowGjEYMBYG
A1UEAwwPVGVucGF5IFNNMiB0ZXN0MFkwEwYHKoZIzj0CAQYIKoEcz1UBgi0DQgAE
rf1MjhT3aJqC3NEXNsTDBi9U2HnBRi9DeYz+pueSC+kFn8yG9TDLeYr+lKolFizJ
oTENOOU1RLliZ9nw5iO8wqNTMFEwHQYDVR0OBBYEFGwVCHkRovPyN5n7IP0pezv8
yLztMB8GA1UdIwQYMBaAFGwVCHkRovPyN5n7IP0pezv8yLztMA8GA1UdEwEB/wQF
MAMBAf8wCgYIKoEcz1UBg3UDSAAwRQIgF/9byLCZo8GolPaYBttWgE0MecwoeUnc
uzTBka+HGZUCIQD3U+A4my24nuaCxxRfM4exqPqAJ0AQamkQEWgRUT5TJA==
-----END CERTIFICATE-----
"""
# Self-generated with `openssl genrsa 512`: too small to accept.
RSA_512_PRIVATE = """-----BEGIN PRIVATE KEY-----
MIIBVAIBADANBgkqhkiG9w0BAQEFAASCAT4wggE6AgEAAkEAs9AAo0tdzYoBEeJQ
u5XsAS0MpULKZEHorqA1aFi8Q9hQ0CtafbkFoy8gX51x2QzTkUebU+MosAXwUSFa
avcstwIDAQABAkAL/tBMFHcJgy9XFhX0rae03GB/ldkSnyL6o01szJ6il+rzW/VZ
oKauJjfC8JqboFpP36U+o+s3CcLb/cD39cYhAiEA6N7UeewUmlIElH6Id4LGaARP
evckwAs3fgxZoVRFeCUCIQDFrBMlkf5XPpxDrCCZH4drTZ2nI0rUreI+Z2iTC4Z8
qwIgR2OAabwY+NIp+0frGBAsONkRcJXxWzpVEbxBgfausU0CIGsa34z92+f93sG0
JD2TndaASankL4mpZesWMM1r80TdAiEAi8eLU8lO2q7EMVOF3qam+tGLBHHi8osn
LeR0F1exqww=
-----END PRIVATE KEY-----
"""
RSA_512_PUBLIC = """-----BEGIN PUBLIC KEY-----
MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBALPQAKNLXc2KARHiULuV7AEtDKVCymRB
6K6gNWhYvEPYUNArWn25BaMvIF+dcdkM05FHm1PjKLAF8FEhWmr3LLcCAwEAAQ==
-----END PUBLIC KEY-----
"""

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def _vector(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return _vector("v3_rsa_official_doc_signatures.json")["key"]


@pytest.fixture(scope="module")
def go() -> dict[str, Any]:
    return _vector("v3_wechatpay_go_sdk_keys_and_signature.json")["keys"]


@pytest.fixture(scope="module")
def java() -> dict[str, Any]:
    return _vector("v3_wechatpay_java_sdk_keys.json")


@pytest.fixture(scope="module")
def go_key(go: dict[str, Any]) -> RSAPrivateKey:
    return load_private_key(go["rsa_private_key_pkcs8_pem"])


# --- vectors ------------------------------------------------------------------------------


def test_official_pkcs1_key_matches_its_published_spki(doc: dict[str, Any]) -> None:
    private = load_private_key(doc["private_key_pem"])
    assert doc["private_key_pem"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert private.key_size == 2048
    assert public_key_pem(private.public_key()) == doc["public_key_pem_spki"]
    assert public_key_matches(private, load_public_key(doc["public_key_pem_spki"]))


def test_go_sdk_pkcs8_key_matches_spki_and_both_certificates(go: dict[str, Any]) -> None:
    private = load_private_key(go["rsa_private_key_pkcs8_pem"].encode())
    assert public_key_matches(private, load_public_key(go["public_key_spki_pem"]))
    for serial in ("F5765756002FDD77", "D7CE59D1F522D701"):
        cert = load_certificate(go[f"platform_certificate_serial_{serial}_pem"])
        assert certificate_serial(cert) == serial
        assert public_key_matches(private, certificate_public_key(cert))


def test_go_sdk_second_merchant_key_is_a_different_key(go: dict[str, Any]) -> None:
    first = load_private_key(go["rsa_private_key_pkcs8_pem"])
    second = load_private_key(go["second_merchant_private_key_pkcs8_pem"])
    assert not public_key_matches(second, first.public_key())


def test_java_sdk_key_certificate_pairs(java: dict[str, Any]) -> None:
    merchant = load_private_key(java["merchant_private_key_pem"])
    merchant_cert = load_certificate(java["merchant_certificate_pem"])
    wechat = load_private_key(java["wechat_pay_private_key_pem"])
    wechat_cert = load_certificate(java["wechat_pay_certificate_pem"].encode())
    assert certificate_serial(merchant_cert) == java["merchant_serial_no"]
    assert certificate_serial(wechat_cert) == java["wechat_pay_certificate_serial_no"]
    assert public_key_matches(merchant, certificate_public_key(merchant_cert))
    assert public_key_matches(wechat, certificate_public_key(wechat_cert))
    assert public_key_matches(wechat, load_public_key(java["wechat_pay_public_key_pem"]))
    assert not public_key_matches(merchant, certificate_public_key(wechat_cert))


# --- formats ------------------------------------------------------------------------------


def test_pkcs8_export_round_trips(go_key: RSAPrivateKey) -> None:
    pem = private_key_pem(go_key)
    assert pem.startswith("-----BEGIN PRIVATE KEY-----\n")
    assert load_private_key(pem).private_numbers() == go_key.private_numbers()


def test_pkcs1_public_key_loads(go_key: RSAPrivateKey) -> None:
    pkcs1 = go_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
    )
    assert pkcs1.startswith(b"-----BEGIN RSA PUBLIC KEY-----")
    assert load_public_key(pkcs1).public_numbers() == go_key.public_key().public_numbers()


def test_spki_export_header(go_key: RSAPrivateKey) -> None:
    assert public_key_pem(go_key.public_key()).startswith("-----BEGIN PUBLIC KEY-----\n")


# --- refusals -----------------------------------------------------------------------------


def test_encrypted_private_key_is_refused(go_key: RSAPrivateKey) -> None:
    encrypted = go_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    with pytest.raises(KeyFormatError, match="unencrypted"):
        load_private_key(encrypted)


@pytest.mark.parametrize("pem", ["", "garbage", SM2_PRIVATE, SM2_PUBLIC])
def test_unreadable_private_keys_are_refused(pem: str) -> None:
    with pytest.raises(KeyFormatError, match="not an unencrypted PEM private key"):
        load_private_key(pem)


def test_non_rsa_private_key_is_refused() -> None:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(KeyFormatError, match="expected an RSA private key"):
        load_private_key(pem)


def test_small_rsa_keys_are_refused() -> None:
    with pytest.raises(KeyFormatError, match="512 bits is too small"):
        load_private_key(RSA_512_PRIVATE)
    with pytest.raises(KeyFormatError, match="512 bits is too small"):
        load_public_key(RSA_512_PUBLIC)


@pytest.mark.parametrize("pem", ["", "garbage", SM2_PUBLIC, SM2_PRIVATE])
def test_unreadable_public_keys_are_refused(pem: str) -> None:
    with pytest.raises(KeyFormatError, match="not a PEM public key"):
        load_public_key(pem)


def test_non_rsa_public_key_is_refused() -> None:
    pem = public_ec_pem()
    with pytest.raises(KeyFormatError, match="expected an RSA public key"):
        load_public_key(pem)


def public_ec_pem() -> bytes:
    return (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def test_garbage_certificate_is_refused() -> None:
    with pytest.raises(KeyFormatError, match="not a PEM certificate"):
        load_certificate("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")


def test_sm2_certificate_loads_but_its_key_is_refused() -> None:
    cert = load_certificate(SM2_CERTIFICATE)
    assert certificate_serial(cert) == "1234"
    with pytest.raises(KeyFormatError, match="cannot be read"):
        certificate_public_key(cert)


def _cert_for(public_key: Any, signer: Any) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "t")])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(1)
        .not_valid_before(NOW)
        .not_valid_after(NOW + timedelta(days=1))
        .sign(signer, hashes.SHA256())
    )


def test_ec_certificate_key_is_refused() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(KeyFormatError, match="expected an RSA certificate"):
        certificate_public_key(_cert_for(key.public_key(), key))


def test_small_rsa_certificate_key_is_refused() -> None:
    small = serialization.load_pem_private_key(RSA_512_PRIVATE.encode(), password=None)
    with pytest.raises(KeyFormatError, match="too small"):
        certificate_public_key(_cert_for(small.public_key(), small))  # type: ignore[union-attr,arg-type]


# --- serials and ids ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "printed"),
    [(0xABC, "0ABC"), (0x1, "01"), (0xD7CE59D1F522D701, "D7CE59D1F522D701"), (0xFF, "FF")],
)
def test_certificate_serial_is_bytewise_uppercase_hex(
    go_key: RSAPrivateKey, number: int, printed: str
) -> None:
    cert = make_self_signed_certificate(
        go_key,
        serial_number=number,
        common_name="t",
        not_before=NOW,
        not_after=NOW + timedelta(days=1),
    )
    assert certificate_serial(cert) == printed


@pytest.mark.parametrize(
    ("serial", "expected"),
    [
        ("PUB_KEY_ID_0000000000000024101100397200000006", True),
        ("PUB_KEY_ID_1", True),
        ("PUB_KEY_ID_", False),
        ("pub_key_id_0000000000000024101100397200000006", False),
        ("PUB_KEY_ID_00A1", False),
        ("PUB_KEY_ID_0001\n", False),
        ("5DEA10EF55877E3CF6C33255C2E7DEFFF7E427EC", False),
    ],
)
def test_is_public_key_id(serial: str, expected: bool) -> None:
    assert is_public_key_id(serial) is expected


# --- certificates for the sandbox ---------------------------------------------------------


def test_self_signed_certificate_is_deterministic_and_self_issued(go_key: RSAPrivateKey) -> None:
    def make() -> x509.Certificate:
        return make_self_signed_certificate(
            go_key,
            serial_number=0x5DEA10EF55877E3CF6C33255C2E7DEFFF7E427EC,
            common_name="Tenpay.com sign",
            not_before=NOW,
            not_after=NOW + timedelta(days=365 * 5),
        )

    cert = make()
    assert cert.public_bytes(serialization.Encoding.DER) == make().public_bytes(
        serialization.Encoding.DER
    )
    assert certificate_serial(cert) == "5DEA10EF55877E3CF6C33255C2E7DEFFF7E427EC"
    assert cert.issuer == cert.subject
    cert.verify_directly_issued_by(cert)
    assert public_key_matches(go_key, certificate_public_key(cert))
    assert cert.not_valid_before_utc == NOW


def test_certificate_issued_by_another_key(go: dict[str, Any], go_key: RSAPrivateKey) -> None:
    issuer_key = load_private_key(go["second_merchant_private_key_pkcs8_pem"])
    window = {"not_before": NOW, "not_after": NOW + timedelta(days=30)}
    ca = make_self_signed_certificate(
        issuer_key, serial_number=1, common_name="Tenpay.com CA Center", **window
    )
    leaf = make_self_signed_certificate(
        go_key,
        serial_number=2,
        common_name="Tenpay.com sign",
        issuer_key=issuer_key,
        issuer_common_name="Tenpay.com CA Center",
        **window,
    )
    leaf.verify_directly_issued_by(ca)
    default = make_self_signed_certificate(
        go_key, serial_number=3, common_name="sandbox", issuer_key=issuer_key, **window
    )
    issuer_cn = default.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert issuer_cn == "sandbox CA"
    assert public_key_matches(go_key, certificate_public_key(leaf))


def test_self_signed_certificate_refuses_naive_times(go_key: RSAPrivateKey) -> None:
    with pytest.raises(MalformedInput, match="timezone-aware"):
        make_self_signed_certificate(
            go_key,
            serial_number=1,
            common_name="t",
            not_before=datetime(2025, 1, 1),
            not_after=NOW,
        )


@pytest.mark.parametrize("serial", [0, -1, 2**159])
def test_self_signed_certificate_refuses_bad_serials(go_key: RSAPrivateKey, serial: int) -> None:
    with pytest.raises(MalformedInput, match="serial"):
        make_self_signed_certificate(
            go_key,
            serial_number=serial,
            common_name="t",
            not_before=NOW,
            not_after=NOW + timedelta(days=1),
        )
