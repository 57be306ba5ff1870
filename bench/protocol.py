"""Notification handling speed: paydesk.protocol against the Python SDKs people use today.

Same process, same inputs, interleaved rounds (best round counts, so a noisy neighbour on a
2-core box hurts both sides alike):

* v3: verify + decrypt + parse one signed ``TRANSACTION.SUCCESS`` — paydesk's
  ``open_notification(...).transaction()`` against wechatpayv3's ``WeChatPay.callback()``
  (public-key mode, so no certificate download is involved);
* v2: parse + verify one signed payment notify — paydesk's ``parse_payment_notification`` against
  wechatpy's ``WeChatPay.parse_payment_result()`` (MD5, wechatpy's default).

A raw RSA-2048 verify is measured too: it is the floor under any v3 handler.

Usage: ``python bench/protocol.py [--seconds 0.4] [--rounds 7]``. The last line is JSON:
``{"v3_vs_wechatpayv3": <ratio>, "v2_vs_wechatpy": <ratio>, ...}``.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.hashes import SHA256
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpy.pay import WeChatPay as WechatpyPay

from paydesk.protocol import keys
from paydesk.protocol.v2.codec import signed_xml
from paydesk.protocol.v2.notify import parse_payment_notification
from paydesk.protocol.v3.aead import Apiv3Cipher
from paydesk.protocol.v3.notify import open_notification, seal_notification
from paydesk.protocol.v3.verify import KeySet

APPID = "wx5a0d5a0d00000001"
MCHID = "1900000001"
APIV3_KEY = "0123456789abcdefghijklmnopqrstuv"
V2_KEY = "192006250b4c09247ec02edce69f6a2d"
PUBLIC_KEY_ID = "PUB_KEY_ID_0000000000000024101100397200000006"


def _v3_inputs(now: int) -> tuple[dict[str, str], bytes, Any, KeySet, Apiv3Cipher]:
    platform = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    merchant = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    transaction = {
        "mchid": MCHID,
        "appid": APPID,
        "out_trade_no": "PD01KDWYZ3008000000000000000",
        "transaction_id": "4200001234202611221234567890",
        "trade_type": "JSAPI",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "bank_type": "OTHERS",
        "attach": "",
        "success_time": "2026-11-22T20:00:00+08:00",
        "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        "amount": {"total": 100, "payer_total": 100, "currency": "CNY", "payer_currency": "CNY"},
    }
    cipher = Apiv3Cipher(APIV3_KEY)
    headers, body = seal_notification(
        event_id="EV-2018022511223320873",
        create_time="2026-11-22T20:00:01+08:00",
        event_type="TRANSACTION.SUCCESS",
        summary="支付成功",
        original_type="transaction",
        associated_data="transaction",
        resource_plaintext=json.dumps(transaction).encode(),
        cipher=cipher,
        resource_nonce="fdasflkja484",
        platform_key=platform,
        serial=PUBLIC_KEY_ID,
        timestamp=now,
        sign_nonce="5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
    )
    sdk = WeChatPay(
        wechatpay_type=WeChatPayType.MINIPROG,
        mchid=MCHID,
        appid=APPID,
        apiv3_key=APIV3_KEY,
        private_key=keys.private_key_pem(merchant),
        cert_serial_no="5F1C72E2A8931B72",
        public_key=keys.public_key_pem(platform.public_key()),
        public_key_id=PUBLIC_KEY_ID,
    )
    keyset = KeySet.from_public_key(PUBLIC_KEY_ID, platform.public_key())
    return headers, body, sdk, keyset, cipher


def _v2_inputs() -> tuple[bytes, WechatpyPay]:
    fields = {
        "appid": APPID,
        "mch_id": MCHID,
        "nonce_str": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        "result_code": "SUCCESS",
        "return_code": "SUCCESS",
        "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
        "is_subscribe": "N",
        "trade_type": "JSAPI",
        "bank_type": "CFT",
        "total_fee": 100,
        "fee_type": "CNY",
        "cash_fee": 100,
        "transaction_id": "4200001234202611221234567890",
        "out_trade_no": "PD01KDWYZ3008000000000000000",
        "attach": "支付测试",
        "time_end": "20261122200000",
    }
    body = signed_xml(fields, key=V2_KEY, sign_type="MD5").encode()
    return body, WechatpyPay(appid=APPID, api_key=V2_KEY, mch_id=MCHID)


def _rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``fn`` over about ``seconds``."""
    batch, done, start = 50, 0, time.perf_counter()
    while True:
        for _ in range(batch):
            fn()
        done += batch
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done / elapsed


def _rounds(
    cases: dict[str, Callable[[], object]], seconds: float, rounds: int
) -> dict[str, list[float]]:
    """Each round times every case back to back, so a noisy moment hits neighbours alike."""
    rates: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            rates[name].append(_rate(fn, seconds))
    return rates


def _paired_ratio(ours: list[float], theirs: list[float]) -> float:
    """Median over rounds of ours/theirs measured in the same round."""
    return statistics.median(a / b for a, b in zip(ours, theirs, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.15, help="time per case per round")
    parser.add_argument("--rounds", type=int, default=21, help="interleaved rounds")
    args = parser.parse_args()

    now = int(time.time())
    headers, body, sdk, keyset, cipher = _v3_inputs(now)
    v2_body, wechatpy_pay = _v2_inputs()
    platform_pub = keyset.key_for(PUBLIC_KEY_ID)
    message = (
        f"{headers['Wechatpay-Timestamp']}\n{headers['Wechatpay-Nonce']}\n".encode() + body + b"\n"
    )
    signature = base64.b64decode(headers["Wechatpay-Signature"])

    # Both sides must agree on the answer before their speed means anything.
    ours = open_notification(headers, body, keyset, cipher, now=now).transaction()
    theirs = sdk.callback(headers, body)
    assert theirs
    assert theirs["resource"]["transaction_id"] == ours.transaction_id
    ours_v2 = parse_payment_notification(v2_body, key=V2_KEY, sign_type="MD5")
    assert wechatpy_pay.parse_payment_result(v2_body)["total_fee"] == ours_v2.total_fee

    cases: dict[str, Callable[[], object]] = {
        "v3 paydesk open_notification().transaction()": lambda: open_notification(
            headers, body, keyset, cipher, now=now
        ).transaction(),
        "v3 wechatpayv3 callback()": lambda: sdk.callback(headers, body),
        "v3 floor: one RSA-2048 verify": lambda: platform_pub.verify(
            signature, message, padding.PKCS1v15(), SHA256()
        ),
        "v2 paydesk parse_payment_notification()": lambda: parse_payment_notification(
            v2_body, key=V2_KEY, sign_type="MD5"
        ),
        "v2 wechatpy parse_payment_result()": lambda: wechatpy_pay.parse_payment_result(v2_body),
    }
    print(f"timing {len(cases)} cases, {args.rounds} interleaved rounds of {args.seconds}s each …")
    rates = _rounds(cases, args.seconds, args.rounds)
    print(f"\n{'case':<48} {'median ops/s':>13} {'best ops/s':>11} {'µs/op':>7}")
    for name, series in rates.items():
        median = statistics.median(series)
        print(f"{name:<48} {median:>13,.0f} {max(series):>11,.0f} {1e6 / median:>7.1f}")
    names = list(cases)
    v3 = _paired_ratio(rates[names[0]], rates[names[1]])
    v2 = _paired_ratio(rates[names[3]], rates[names[4]])
    print(
        f"\nmedian paired ratio — v3: paydesk {v3:.2f}× wechatpayv3 (target ≥ 1.15); "
        f"v2: paydesk {v2:.2f}× wechatpy (target ≥ 1.5)"
    )
    print(
        json.dumps(
            {
                "v3_vs_wechatpayv3": round(v3, 3),
                "v2_vs_wechatpy": round(v2, 3),
                "v3_paydesk_per_s": round(statistics.median(rates[names[0]])),
                "v3_rsa_verify_floor_per_s": round(statistics.median(rates[names[2]])),
                "v2_paydesk_per_s": round(statistics.median(rates[names[3]])),
            }
        )
    )


if __name__ == "__main__":
    main()
