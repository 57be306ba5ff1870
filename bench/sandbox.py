"""How fast is the sandbox? Prepays per second, notifications per second, and the RSA ceiling.

- ``prepay_per_s``: signed ``POST /v3/pay/transactions/native`` calls through the sandbox's
  ASGI app **in-process** (``httpx.ASGITransport``, no sockets), one after another. Each call
  costs the client one RSA signature, the sandbox one verification and one signature.
- ``notify_per_s``: ``TRANSACTION.SUCCESS`` notifications from payment to acknowledgement,
  delivered over **real HTTP** to a local receiver (uvicorn on 127.0.0.1, in a child process so
  it does not compete for the sandbox's interpreter lock). Each costs one
  AES-GCM seal and two RSA signatures (the sealed body, then the attempt's fresh headers).
- ``rsa_sign_per_s``: raw SHA256withRSA-2048 signatures per second, in the same run, as the
  yardstick both numbers are bounded by.
- ``warm_start_s`` and ``cold_start_s``: seconds from ``python -m paydesk sandbox`` to its first
  answer, with the keys already on disk and without (it makes them: several RSA-2048 keys);
  ``warm_vs_cold`` is their ratio. The target is a warm start under 2 s.

Usage: ``python bench/sandbox.py [--seconds 3] [--notifications 400]``. Prints a table, then,
as the last line, ``{"prepay_per_s": …, "notify_per_s": …, "rsa_sign_per_s": …,
"warm_start_s": …, "cold_start_s": …, "warm_vs_cold": …}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from paydesk.protocol.keys import load_private_key
from paydesk.protocol.v3.signing import build_authorization, rsa_sign
from paydesk.sandbox import Sandbox, SandboxCredentials
from paydesk.sandbox.credentials import DEFAULT_MINIPROGRAM_APPID
from paydesk.sandbox.pay.model import OrderDraft


def rsa_rate(seconds: float) -> float:
    """Raw RSA-2048 signatures per second."""
    key = load_private_key(
        SandboxCredentials.generate(rsa_bits=2048).merchants[0].merchant_private_key_pem
    )
    message = b"POST\n/v3/pay/transactions/native\n1700000000\nNONCE\n{}\n"
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        rsa_sign(key, message)
        count += 1
    return count / (time.perf_counter() - started)


async def prepay_rate(box: Sandbox, seconds: float) -> float:
    """Signed native prepays per second through the in-process ASGI app."""
    creds = box.credentials.merchants[0]
    key = load_private_key(creds.merchant_private_key_pem)
    url = "/v3/pay/transactions/native"
    transport = httpx.ASGITransport(app=box.asgi())
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.bench") as client:
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            body = json.dumps(
                {
                    "appid": DEFAULT_MINIPROGRAM_APPID,
                    "mchid": creds.mchid,
                    "description": "bench",
                    "out_trade_no": f"BENCH{count:08d}",
                    "notify_url": "http://127.0.0.1:9/n",
                    "amount": {"total": 1},
                }
            ).encode()
            header = build_authorization(
                mchid=creds.mchid,
                serial_no=creds.merchant_serial_no,
                private_key=key,
                method="POST",
                url=url,
                body=body,
                timestamp=int(time.time()),
                nonce=f"N{count}",
            )
            response = await client.post(url, content=body, headers={"Authorization": header})
            if response.status_code != 200:
                raise RuntimeError(f"prepay failed: {response.status_code} {response.text}")
            count += 1
        return count / (time.perf_counter() - started)


async def _acknowledge(request: Request) -> Response:
    await request.body()
    return Response(status_code=204)


class Receiver:
    """A merchant that acknowledges every notification: uvicorn in a child process, so it
    does not share the sandbox's interpreter lock."""

    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port: int = sock.getsockname()[1]
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Receiver:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--receiver", str(self.port)], cwd=Path(__file__).parent
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                httpx.post(f"http://127.0.0.1:{self.port}/notify", content=b"ping")
                return self
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("the receiver did not start")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)


def serve_receiver(port: int) -> None:
    """Run the acknowledging merchant (the child process of :class:`Receiver`)."""
    app = Starlette(routes=[Route("/notify", _acknowledge, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


async def notify_rate(box: Sandbox, receiver: Receiver, count: int) -> float:
    """Notifications per second, from payment to acknowledgement, over local HTTP."""
    world = box.pay
    creds = box.credentials.merchants[0]
    orders = [
        world.book.place(
            OrderDraft(
                api="v3",
                mchid=creds.mchid,
                appid=DEFAULT_MINIPROGRAM_APPID,
                out_trade_no=f"NOTIFY{n:08d}",
                trade_type="NATIVE",
                description="bench",
                total=1,
                notify_url=f"http://127.0.0.1:{receiver.port}/notify",
                time_expire=None,
                fingerprint={"n": n},
            ),
            world.now(),
        )
        for n in range(count)
    ]
    started = time.perf_counter()
    for order in orders:
        world.book.mark_paid(order, "oBENCH", world.now())
        world.notify_payment(order)
    await world.drain(120)
    elapsed = time.perf_counter() - started
    delivered = sum(d.state == "delivered" for d in world.dispatcher.deliveries)
    if delivered != count:
        raise RuntimeError(f"only {delivered} of {count} notifications were acknowledged")
    return count / elapsed


def start_seconds(data_dir: Path) -> float:
    """Seconds from starting ``paydesk sandbox`` on ``data_dir`` to its first answer."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "paydesk", "sandbox", "--port", str(port),
               "--data-dir", str(data_dir)]  # fmt: skip
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while process.poll() is None:
            try:
                httpx.get(f"http://127.0.0.1:{port}/_sandbox/credentials", timeout=1)
                return time.perf_counter() - started
            except httpx.TransportError:
                time.sleep(0.01)
        raise RuntimeError(f"paydesk sandbox exited with {process.returncode}")
    finally:
        process.terminate()
        process.wait(10)


def start_times() -> dict[str, float]:
    """A cold start (keys made) then a warm one (keys read) on one fresh data directory."""
    with tempfile.TemporaryDirectory() as directory:
        cold = start_seconds(Path(directory))
        warm = start_seconds(Path(directory))
    return {
        "warm_start_s": round(warm, 2),
        "cold_start_s": round(cold, 2),
        "warm_vs_cold": round(warm / cold, 3),
    }


async def main(seconds: float, notifications: int) -> dict[str, float]:
    """Run the measurements; returns their rates (and the start times)."""
    credentials = SandboxCredentials.generate()
    rsa = rsa_rate(seconds)
    box = Sandbox(credentials, seed=1)
    async with box:
        prepay = await prepay_rate(box, seconds)
    with Receiver() as receiver:
        box = Sandbox(credentials, seed=2)
        async with box:
            notify = await notify_rate(box, receiver, notifications)
    return {
        "prepay_per_s": round(prepay, 1),
        "notify_per_s": round(notify, 1),
        "rsa_sign_per_s": round(rsa, 1),
        **start_times(),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each timed loop")
    parser.add_argument("--notifications", type=int, default=400, help="notifications to deliver")
    parser.add_argument("--receiver", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver:
        serve_receiver(args.receiver)
        raise SystemExit(0)
    rates = asyncio.run(main(args.seconds, args.notifications))
    rows = [
        ("prepay_per_s", "signed v3 native prepays, in-process ASGI", rates["prepay_per_s"]),
        ("notify_per_s", "TRANSACTION.SUCCESS to ack, local HTTP", rates["notify_per_s"]),
        ("rsa_sign_per_s", "raw SHA256withRSA-2048 signatures", rates["rsa_sign_per_s"]),
    ]
    print(f"{'metric':<16} {'what':<44} {'per second':>12}")
    for name, what, value in rows:
        print(f"{name:<16} {what:<44} {value:>12.1f}")
    print(f"{'warm_start_s':<16} {'paydesk sandbox to its first answer, keys on disk':<44}", end="")
    print(f" {rates['warm_start_s']:>11.2f}s")
    print(f"{'cold_start_s':<16} {'the same, keys made first':<44} {rates['cold_start_s']:>11.2f}s")
    print(json.dumps(rates))
