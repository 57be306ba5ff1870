"""RSA-OAEP (SHA-1): a published known answer, agreement with cryptography, failures."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from paydesk.protocol.errors import DecryptError, MalformedInput
from paydesk.protocol.v3.oaep import (
    SEED_BYTES,
    eme_oaep_encode,
    oaep_decrypt,
    oaep_decrypt_bytes,
    oaep_encrypt,
    oaep_encrypt_bytes,
)

# RSA Laboratories' PKCS #1 v2.1 test vectors (pkcs-1v2-1d2-vec.zip, oaep-vect.txt,
# "Example 1: A 1024-bit RSA key pair", OAEP Examples 1.1 and 1.2: SHA-1, MGF1-SHA1, empty
# label); the same file ships in pyca/cryptography's vectors/…/RSA/pkcs-1v2-1d2-vec/.
N = int(
    "a8b3b284af8eb50b387034a860f146c4919f318763cd6c5598c8ae4811a1e0abc4c7e0b082d693a5e7fced"
    "675cf4668512772c0cbc64a742c6c630f533c8cc72f62ae833c40bf25842e984bb78bdbf97c0107d55bdb6"
    "62f5c4e0fab9845cb5148ef7392dd3aaff93ae1e6b667bb3d4247616d4f5ba10d4cfd226de88d39f16fb",
    16,
)
D = int(
    "53339cfdb79fc8466a655c7316aca85c55fd8f6dd898fdaf119517ef4f52e8fd8e258df93fee180fa0e4ab"
    "29693cd83b152a553d4ac4d1812b8b9fa5af0e7f55fe7304df41570926f3311f15c4d65a732c483116ee3d"
    "3d2d0af3549ad9bf7cbfb78ad884f84d5beb04724dc7369b31def37d0cf539e9cfcdd3de653729ead5d1",
    16,
)
P = int(
    "d32737e7267ffe1341b2d5c0d150a81b586fb3132bed2f8d5262864a9cb9f30af38be448598d413a172efb"
    "802c21acf1c11c520c2f26a471dcad212eac7ca39d",
    16,
)
Q = int(
    "cc8853d1d54da630fac004f471f281c7b8982d8224a490edbeb33d3e3d5cc93c4765703d1dd791642f1f11"
    "6a0dd852be2419b2af72bfe9a030e860b0288b5d77",
    16,
)
DMP1 = int(
    "0e12bf1718e9cef5599ba1c3882fe8046a90874eefce8f2ccc20e4f2741fb0a33a3848aec9c9305fbecbd2"
    "d76819967d4671acc6431e4037968db37878e695c1",
    16,
)
DMQ1 = int(
    "95297b0f95a2fa67d00707d609dfd4fc05c89dafc2ef6d6ea55bec771ea333734d9251e79082ecda866efe"
    "f13c459e1a631386b7e354c899f5f112ca85d71583",
    16,
)
IQMP = int(
    "4f456c502493bdc0ed2ab756a3a6ed4d67352a697d4216e93212b127a63d5411ce6fa98d5dbefd73263e37"
    "28142743818166ed7dd63687dd2a8ca1d2f4fbd8e1",
    16,
)
EXAMPLES = [
    (
        "6628194e12073db03ba94cda9ef9532397d50dba79b987004afefe34",
        "18b776ea21069d69776a33e96bad48e1dda0a5ef",
        "354fe67b4a126d5d35fe36c777791a3f7ba13def484e2d3908aff722fad468fb21696de95d0be911c2d31"
        "74f8afcc201035f7b6d8e69402de5451618c21a535fa9d7bfc5b8dd9fc243f8cf927db31322d6e881eaa91"
        "a996170e657a05a266426d98c88003f8477c1227094a0d9fa1e8c4024309ce1ecccb5210035d47ac72e8a",
    ),
    (
        "750c4047f547e8e41411856523298ac9bae245efaf1397fbe56f9dd5",
        "0cc742ce4a9b7f32f951bcb251efd925fe4fe35f",
        "640db1acc58e0568fe5407e5f9b701dff8c3c91e716c536fc7fcec6cb5b71c1165988d4a279e1577d730fc"
        "7a29932e3f00c81515236d8d8e31017a7a09df4352d904cdeb79aa583adcc31ea698a4c05283daba9089be"
        "5491f67c1a4ee48dc74bbbe6643aef846679b4cb395a352d5ed115912df696ffe0702932946d71492b44",
    ),
]


@pytest.fixture(scope="module")
def rsa_labs_key() -> RSAPrivateKey:
    public = rsa.RSAPublicNumbers(65537, N)
    return rsa.RSAPrivateNumbers(P, Q, D, DMP1, DMQ1, IQMP, public).private_key()


@pytest.mark.parametrize(("message", "seed", "expected"), EXAMPLES)
def test_rsa_labs_known_answers(
    rsa_labs_key: RSAPrivateKey, message: str, seed: str, expected: str
) -> None:
    ciphertext = oaep_encrypt_bytes(
        rsa_labs_key.public_key(), bytes.fromhex(message), seed=bytes.fromhex(seed)
    )
    assert ciphertext.hex() == expected
    assert oaep_decrypt_bytes(rsa_labs_key, ciphertext) == bytes.fromhex(message)


def test_cryptography_decrypts_our_encryption(official_key: RSAPrivateKey) -> None:
    text = "张三 13800138000"
    sealed = oaep_encrypt(official_key.public_key(), text, seed=bytes(range(SEED_BYTES)))
    raw = base64.b64decode(sealed)
    assert len(raw) == 256
    oaep = padding.OAEP(
        mgf=padding.MGF1(hashes.SHA1()),
        algorithm=hashes.SHA1(),
        label=None,
    )
    assert official_key.decrypt(raw, oaep).decode() == text


@settings(max_examples=50)
@given(
    text=st.text(max_size=60),
    seed=st.binary(min_size=SEED_BYTES, max_size=SEED_BYTES),
)
def test_round_trip(official_key: RSAPrivateKey, text: str, seed: bytes) -> None:
    sealed = oaep_encrypt(official_key.public_key(), text, seed=seed)
    assert oaep_decrypt(official_key, sealed) == text


def test_largest_message_fits_and_one_more_byte_does_not(official_key: RSAPrivateKey) -> None:
    room = 256 - 2 * SEED_BYTES - 2
    sealed = oaep_encrypt(official_key.public_key(), "x" * room, seed=bytes(SEED_BYTES))
    assert oaep_decrypt(official_key, sealed) == "x" * room
    with pytest.raises(MalformedInput, match="too long"):
        oaep_encrypt(official_key.public_key(), "x" * (room + 1), seed=bytes(SEED_BYTES))


@pytest.mark.parametrize("seed", [b"", bytes(19), bytes(21)])
def test_seed_must_be_twenty_bytes(seed: bytes) -> None:
    with pytest.raises(MalformedInput) as info:
        eme_oaep_encode(b"m", key_bytes=128, seed=seed)
    assert info.value.field == "seed"


def test_decrypt_failures(official_key: RSAPrivateKey, other_key: RSAPrivateKey) -> None:
    sealed = oaep_encrypt(official_key.public_key(), "secret", seed=bytes(SEED_BYTES))
    with pytest.raises(DecryptError, match="failed"):
        oaep_decrypt(other_key, sealed)
    with pytest.raises(DecryptError, match="not base64"):
        oaep_decrypt(official_key, "!" + sealed[1:])
    with pytest.raises(DecryptError, match="failed"):
        oaep_decrypt(official_key, base64.b64encode(b"short").decode())
    binary = oaep_encrypt_bytes(official_key.public_key(), b"\xff\xfe", seed=bytes(SEED_BYTES))
    with pytest.raises(DecryptError, match="UTF-8"):
        oaep_decrypt(official_key, base64.b64encode(binary).decode())
