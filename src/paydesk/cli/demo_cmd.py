"""``paydesk demo``: the whole mini program flow, step by step, against a fresh paydesk.

    $ paydesk demo          # a few seconds; exit status 0 only if the order ends PAID

It builds the very app ``paydesk serve`` runs (embedded: SQLite, the sandbox at ``/sandbox``)
in a fresh temporary data directory and drives it **in-process** through
``httpx.ASGITransport`` — no port is opened — exactly as a mini program, a merchant backend
and WeChat would: ``wx.login`` code from the sandbox → ``POST /api/v1/auth/miniprogram`` →
merchant ``POST /api/v1/orders`` (API key, ``Idempotency-Key``) → ``POST
/api/v1/orders/{id}/pay`` → the sandbox payer checks the ``paySign`` like WeChat and pays → the
sandbox notifies paydesk → ``GET /api/v1/orders/{id}?sync=true`` says PAID.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    import httpx

    from paydesk.api.serve import Runtime

#: The demo app's public URL: nothing listens there, every request goes in-process.
DEMO_URL = "http://paydesk.demo"
#: Seconds to wait for the sandbox's notification to be acknowledged.
NOTIFY_TIMEOUT = 10.0
DEMO_AMOUNT_FEN = 990


class DemoFailed(Exception):
    """A step did not give what the flow needs: what happened, and what to try.

    >>> str(DemoFailed("login", "400 invalid_code", "run it again"))
    'login: 400 invalid_code'
    """

    def __init__(self, step: str, what: str, hint: str) -> None:
        super().__init__(f"{step}: {what}")
        self.step = step
        self.what = what
        self.hint = hint


def shorten(value: str, keep: int = 10) -> str:
    """The start and end of a long value (signatures, tokens).

    >>> shorten("abcdefghijklmnopqrstuvwxyz", 4), shorten("short", 4)
    ('abcd…wxyz (26 chars)', 'short')
    """
    if len(value) <= 2 * keep + 1:
        return value
    return f"{value[:keep]}…{value[-keep:]} ({len(value)} chars)"


@dataclass
class Steps:
    """Prints the numbered steps as they happen, each with its key facts."""

    console: Console
    count: int = 0

    def done(self, title: str, facts: dict[str, Any]) -> None:
        """One finished step."""
        self.count += 1
        self.console.print(f"[bold green]{self.count:>2}.[/bold green] [bold]{title}[/bold]")
        for name, value in facts.items():
            self.console.print(f"      [dim]{name}:[/dim] {value}", soft_wrap=True)


def expect(step: str, response: httpx.Response, status: int, hint: str) -> dict[str, Any]:
    """The JSON of ``response`` if it has ``status``; DemoFailed with the error otherwise."""
    if response.status_code != status:
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text[:300]
        error = body.get("error", body) if isinstance(body, dict) else body
        missing_route = isinstance(error, dict) and error.get("code") == "not_found"
        if response.status_code == 404 and missing_route:
            hint = "this paydesk has no such endpoint: update it and reinstall (make setup)"
        raise DemoFailed(
            step,
            f"{response.request.method} {response.url.path} → {response.status_code} {error}",
            hint,
        )
    result: dict[str, Any] = response.json()
    return result


def order_table(order: dict[str, Any]) -> Table:
    """The order as paydesk tells it."""
    table = Table(title=f"Order {order['id']}", title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    payer = order.get("payer") or {}
    amount = order["amount"]
    state = order["state"]
    rows = [
        ("state", f"[green]{state}[/green]" if state == "PAID" else f"[red]{state}[/red]"),
        ("amount", f"{amount} fen (¥{amount // 100}.{amount % 100:02d})"),
        ("paid_amount", str(order.get("paid_amount"))),
        ("description", order["description"]),
        ("merchant_order_id", order["merchant_order_id"]),
        ("out_trade_no", order["out_trade_no"]),
        ("transaction_id", str(order.get("transaction_id"))),
        ("mchid / appid", f"{order['mchid']} / {order['appid']}"),
        ("payer openid", str(payer.get("openid"))),
        ("api_version", str(order.get("api_version"))),
        ("created_at", str(order["created_at"])),
        ("paid_at", str(order.get("paid_at"))),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


async def _wait_for_notification(http: httpx.AsyncClient, out_trade_no: str) -> dict[str, Any]:
    """The sandbox's first acknowledged delivery attempt for ``out_trade_no``."""
    deadline = time.monotonic() + NOTIFY_TIMEOUT
    attempts: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        listed = await http.get(
            "/sandbox/_sandbox/notifications", params={"out_trade_no": out_trade_no}
        )
        attempts = expect("notification", listed, 200, "see the sandbox log")["attempts"]
        acknowledged = [a for a in attempts if a["acknowledged"]]
        if acknowledged:
            return acknowledged[0]
        await asyncio.sleep(0.02)
    last = attempts[-1] if attempts else None
    what = "none was sent" if last is None else f"last attempt {last['status']} {last['error']}"
    raise DemoFailed(
        "notification",
        f"no notification acknowledged within {NOTIFY_TIMEOUT:g} s ({what})",
        "look at the attempts on the sandbox log page (paydesk serve, then /sandbox/_sandbox/log)",
    )


async def drive(runtime: Runtime, api_key: str, steps: Steps) -> dict[str, Any]:
    """Run the mini program flow against the running ``runtime``; the final order."""
    appid = next(a.appid for a in runtime.config.apps if a.type == "miniprogram")
    async with runtime.client(timeout=10.0) as http:
        code = expect(
            "wx.login",
            await http.post("/sandbox/_sandbox/login-code", json={"appid": appid}),
            200,
            "the sandbox did not give a login code",
        )
        steps.done(
            "wx.login in the mini program → a login code from the sandbox",
            {"appid": appid, "code": code["code"], "the user's openid": code["openid"]},
        )

        login = expect(
            "login",
            await http.post(
                "/api/v1/auth/miniprogram", json={"appid": appid, "code": code["code"]}
            ),
            200,
            "the code is single-use and lives 5 minutes: run the demo again",
        )
        user = {"Authorization": f"Bearer {login['token']}"}
        steps.done(
            "POST /api/v1/auth/miniprogram → paydesk's session (jscode2session at the sandbox)",
            {
                "token": shorten(login["token"]),
                "expires_at": login["expires_at"],
                "user": login["user"]["id"],
                "session_key": "kept on the server, never sent",
            },
        )

        merchant = {"Authorization": f"Bearer {api_key}", "Idempotency-Key": str(uuid.uuid4())}
        body = {
            "merchant_order_id": f"demo-{uuid.uuid4().hex[:12]}",
            "amount": DEMO_AMOUNT_FEN,
            "description": "paydesk demo: 一杯咖啡 (a coffee)",
            "appid": appid,
        }
        order = expect(
            "create order",
            await http.post("/api/v1/orders", json=body, headers=merchant),
            201,
            "check the merchant API key",
        )
        again = await http.post("/api/v1/orders", json=body, headers=merchant)
        replayed = again.headers.get("Idempotent-Replayed") == "true"
        same = again.status_code == 201 and again.json().get("id") == order["id"]
        steps.done(
            "Merchant backend: POST /api/v1/orders (API key, Idempotency-Key)",
            {
                "order": order["id"],
                "amount": f"{order['amount']} fen — the merchant's word, never the client's",
                "out_trade_no": order["out_trade_no"],
                "state": order["state"],
                "same request again": "the stored response (Idempotent-Replayed)"
                if replayed and same
                else f"[red]{again.status_code}, not replayed[/red]",
            },
        )

        started = expect(
            "pay",
            await http.post(
                f"/api/v1/orders/{order['id']}/pay", json={"channel": "miniprogram"}, headers=user
            ),
            200,
            "the prepay at the sandbox failed: see the error above",
        )
        params = started["params"]
        steps.done(
            "Mini program: POST /api/v1/orders/{id}/pay → wx.requestPayment parameters",
            {
                "timeStamp / nonceStr": f"{params['timeStamp']} / {params['nonceStr']}",
                "package": params["package"],
                "signType": params["signType"],
                "paySign": shorten(params["paySign"]),
                "api_version": started["api_version"],
            },
        )

        paid = expect(
            "sandbox payer",
            await http.post(
                "/sandbox/_sandbox/pay",
                json={
                    "prepay_id": params["package"].removeprefix("prepay_id="),
                    "result": "SUCCESS",
                    "openid": code["openid"],
                    "pay_sign": params["paySign"],
                    "timestamp": params["timeStamp"],
                    "nonce_str": params["nonceStr"],
                    "sign_type": params["signType"],
                },
            ),
            200,
            "the sandbox refused the paySign: the parameters were not signed like WeChat expects",
        )
        steps.done(
            "wx.requestPayment: the sandbox payer checks the paySign like WeChat, and pays",
            {"result": paid["err_msg"], "transaction_id": paid["transaction_id"]},
        )

        attempt = await _wait_for_notification(http, order["out_trade_no"])
        steps.done(
            "WeChat (the sandbox) notifies paydesk: signed, encrypted, verified, applied once",
            {
                "delivery attempt": f"#{attempt['number']} POST {attempt['url']}",
                "answer": f"{attempt['status']} in {round(attempt['duration_ms'])} ms",
            },
        )

        final = expect(
            "read order",
            await http.get(f"/api/v1/orders/{order['id']}", params={"sync": "true"}, headers=user),
            200,
            "the order could not be read back",
        )
        steps.done(
            "The success callback asks the server: GET /api/v1/orders/{id}?sync=true",
            {"state": final["state"], "paid_at": final.get("paid_at")},
        )
        return final


async def run_demo(console: Console, data_dir: Path) -> dict[str, Any]:
    """Build the ``paydesk serve`` app in ``data_dir``, run the flow, return the final order."""
    from paydesk.api.serve import build_runtime
    from paydesk.settings import Settings

    steps = Steps(console)
    settings = Settings(
        environment="development",
        data_dir=data_dir,
        database_url=None,
        redis_url=None,
        config_file=None,
        public_url=DEMO_URL,
    )
    began = time.monotonic()
    runtime = build_runtime(settings)
    api_key = await runtime.prepare()
    if api_key is None:
        raise DemoFailed("start", "the fresh database already had an API key", "run it again")
    steps.done(
        "paydesk serve's app, in-process, in a fresh data directory",
        {
            "data dir": str(data_dir),
            "sandbox": f"keys made; mounted at /sandbox as WeChat ({len(runtime.config.merchants)}"
            f" merchants, {len(runtime.config.apps)} apps)",
            "database": "SQLite, migrated",
            "merchant API key": shorten(api_key, 8),
        },
    )
    async with runtime.running():
        order = await drive(runtime, api_key, steps)
    console.print(order_table(order))
    console.print(f"[dim]{time.monotonic() - began:.1f} s in all[/dim]")
    return order


def demo() -> None:
    """Run the whole mini program flow in-process and print each step; exit 0 only if PAID."""
    import httpx  # here, like the app's modules: other commands do not need it

    console = Console()
    console.print(
        "[bold]paydesk demo[/bold] — a mini program pays an order, against the app "
        "`paydesk serve` runs, in-process (no port opened), WeChat played by the sandbox\n"
    )
    with tempfile.TemporaryDirectory(prefix="paydesk-demo-") as tmp:
        try:
            order = asyncio.run(run_demo(console, Path(tmp)))
        except DemoFailed as exc:
            console.print(f"\n[bold red]The demo failed at “{exc.step}”:[/bold red] {exc.what}")
            console.print(f"Try: {exc.hint}")
            raise typer.Exit(code=1) from exc
        except (httpx.HTTPError, OSError, ValueError, RuntimeError) as exc:
            console.print(f"\n[bold red]The demo failed:[/bold red] {type(exc).__name__}: {exc}")
            console.print("Try: make setup (a fresh install), then paydesk selfcheck")
            raise typer.Exit(code=1) from exc
    if order["state"] != "PAID":
        console.print(
            f"\n[bold red]The order ended {order['state']}, not PAID.[/bold red] "
            "Try: paydesk serve, then watch the notifications on /sandbox/_sandbox/log"
        )
        raise typer.Exit(code=1)
    console.print("\n[bold green]PAID[/bold green] — the whole flow, with no WeChat account.")
