"""Known-answer tests shipped with paydesk: official WeChat vectors through ``paydesk.protocol``.

``paydesk selfcheck`` prints these as a table. A pass means this installation (its Python, its
OpenSSL, its ``cryptography``) signs, verifies and decrypts byte for byte like WeChat's own
published examples::

    >>> results = run_all()
    >>> all(r.passed for r in results)
    True
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from paydesk.protocol import errors, keys, virtual_payment, xmlcodec
from paydesk.protocol.messages.crypto import MessageCrypto
from paydesk.protocol.messages.signature import push_signature
from paydesk.protocol.v2.pay_params import jsapi_pay_params_v2
from paydesk.protocol.v2.sign import sign_v2
from paydesk.protocol.v3.aead import aead_decrypt, aead_encrypt
from paydesk.protocol.v3.certificates import decrypt_certificates
from paydesk.protocol.v3.pay_params import app_pay_params, miniprogram_pay_params
from paydesk.protocol.v3.signing import DOC_FIELD_ORDER, build_authorization, rsa_sign

__all__ = ["CheckResult", "run_all"]

_BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
    b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><xml><x>&b;</x></xml>'
)


@dataclass(frozen=True)
class CheckResult:
    """One known-answer check: where it comes from and whether paydesk reproduced it."""

    area: str
    name: str
    source: str
    passed: bool
    detail: str = ""


def _load() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("known_answers.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _short(source: str) -> str:
    return source.split(" (")[0].replace("github ", "")[:60]


def _checks(v: dict[str, Any]) -> list[tuple[str, str, str, Callable[[], bool]]]:
    official = v["v3_official_key"]
    key = keys.load_private_key(official["private_key_pem"])
    checks: list[tuple[str, str, str, Callable[[], bool]]] = []

    for case in v["v3_authorization"]:

        def authorization(case: dict[str, Any] = case) -> bool:
            header = build_authorization(
                mchid=official["mchid"],
                serial_no=official["serial_no"],
                private_key=key,
                method=case["method"],
                url=case["url"],
                body=case["body"].encode(),
                timestamp=int(case["timestamp"]),
                nonce=case["nonce_str"],
                field_order=DOC_FIELD_ORDER,
            )
            return bool(header == case["authorization_header"])

        checks.append(
            (
                "Pay v3",
                f"Authorization, {case['method']} {case['url']}",
                case["source"],
                authorization,
            )
        )

    jsapi = v["v3_jsapi_pay_sign"]
    checks.append(
        (
            "Pay v3",
            "wx.requestPayment / JSAPI paySign",
            jsapi["source"],
            lambda: (
                miniprogram_pay_params(
                    appid=jsapi["appId"],
                    prepay_id=jsapi["package"].removeprefix("prepay_id="),
                    private_key=key,
                    timestamp=int(jsapi["timeStamp"]),
                    nonce=jsapi["nonceStr"],
                )["paySign"]
                == jsapi["paySign"]
            ),
        )
    )
    app = v["v3_app_sign"]
    checks.append(
        (
            "Pay v3",
            "APP pay sign",
            app["source"],
            lambda: (
                app_pay_params(
                    appid=app["appid"],
                    mchid=official["mchid"],
                    prepay_id=app["prepayid"],
                    private_key=key,
                    timestamp=int(app["timestamp"]),
                    nonce=app["noncestr"],
                )["sign"]
                == app["sign"]
            ),
        )
    )
    go = v["v3_go_sdk_signature"]
    checks.append(
        (
            "Pay v3",
            "SHA256withRSA (Go SDK vector)",
            go["source"],
            lambda: (
                rsa_sign(keys.load_private_key(go["private_key_pem"]), go["message"].encode())
                == go["signature"]
            ),
        )
    )
    for case in v["v3_aead"]:

        def aead(case: dict[str, Any] = case) -> bool:
            plain = aead_decrypt(
                case["key"],
                nonce=case["nonce"],
                associated_data=case["associated_data"],
                ciphertext=case["ciphertext"],
                allow_aes128=len(case["key"]) == 16,
            )
            again = aead_encrypt(
                case["key"],
                nonce=case["nonce"],
                associated_data=case["associated_data"],
                plaintext=plain,
                allow_aes128=len(case["key"]) == 16,
            )
            return plain.decode() == case["plaintext"] and again == case["ciphertext"]

        checks.append(("Pay v3", f"AEAD_AES_256_GCM ({case['id']})", case["source"], aead))
    for case in v["v3_certificates"]:
        checks.append(
            (
                "Pay v3",
                f"/v3/certificates decrypt ({case['id']})",
                case["source"],
                lambda case=case: (
                    [
                        c.serial_no
                        for c in decrypt_certificates(
                            case["response_body"].encode(),
                            case["apiv3_key"],
                            allow_aes128=len(case["apiv3_key"]) == 16,
                        )
                    ]
                    == [case["expected_certificate_serial"]]
                ),
            )
        )

    v2 = v["v2_sign"]
    checks.append(
        (
            "Pay v2",
            "MD5 sign",
            v2["source"],
            lambda: sign_v2(v2["params"], v2["key"], "MD5") == v2["md5_sign"],
        )
    )
    checks.append(
        (
            "Pay v2",
            "HMAC-SHA256 sign",
            v2["source"],
            lambda: sign_v2(v2["params"], v2["key"], "HMAC-SHA256") == v2["hmac_sha256_sign"],
        )
    )
    ps = v["v2_pay_sign"]
    checks.append(
        (
            "Pay v2",
            "wx.requestPayment paySign (MD5)",
            ps["source"],
            lambda: (
                jsapi_pay_params_v2(
                    appid=ps["params"]["appId"],
                    prepay_id=ps["params"]["package"].removeprefix("prepay_id="),
                    key=ps["key"],
                    sign_type="MD5",
                    timestamp=int(ps["params"]["timeStamp"]),
                    nonce=ps["params"]["nonceStr"],
                )["paySign"]
                == ps["paySign"]
            ),
        )
    )
    checks.append(
        ("Pay v2", "hostile XML (billion laughs) refused", "paydesk", _refuses_billion_laughs)
    )

    url = v["push_url_signature"]
    checks.append(
        (
            "Messages",
            "push server check signature",
            url["source"],
            lambda: (
                push_signature(url["token"], url["timestamp"], url["nonce"]) == url["signature"]
            ),
        )
    )
    for name, case, message in (
        ("safe-mode decrypt (official JSON)", v["safe_mode"], v["safe_mode"]["body"]["Encrypt"]),
        (
            "WXBizMsgCrypt sample (XML)",
            v["wxbizmsgcrypt_sample"],
            v["wxbizmsgcrypt_sample"]["Encrypt"],
        ),
    ):

        def safe_mode(case: dict[str, Any] = case, encrypt: str = message) -> bool:
            crypto = MessageCrypto(case["token"], case["encoding_aes_key"], case["appid"])
            plain = crypto.open(
                msg_signature=case["msg_signature"],
                timestamp=case["timestamp"],
                nonce=case["nonce"],
                encrypt=encrypt,
            )
            return bool(plain.decode() == case["decrypted"]["msg"])

        checks.append(("Messages", name, case.get("source", ""), safe_mode))

    vp = v["virtual_payment"]
    checks.append(
        (
            "Virtual pay",
            "pay_sig and user signature",
            vp["source"],
            lambda: (
                virtual_payment.pay_sig(vp["app_key"], vp["uri"], vp["post_body"]) == vp["pay_sig"]
                and virtual_payment.user_signature(vp["session_key"], vp["post_body"])
                == vp["signature"]
            ),
        )
    )
    return checks


def _refuses_billion_laughs() -> bool:
    try:
        xmlcodec.parse_xml(_BILLION_LAUGHS)
    except errors.HostileXML:
        return True
    return False


def run_all() -> list[CheckResult]:
    """Run every known-answer check; never raises for a failing check, reports it instead."""
    results: list[CheckResult] = []
    for area, name, source, check in _checks(_load()):
        try:
            passed, detail = check(), ""
        except errors.ProtocolError as exc:
            passed, detail = False, f"{type(exc).__name__}: {exc}"
        results.append(
            CheckResult(
                area, name, _short(source), passed, detail or ("" if passed else "output differs")
            )
        )
    return results
