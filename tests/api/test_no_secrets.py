"""No configured secret ever leaves: not in a response, a header, a page, a log record, the
OpenAPI document, or the output of ``paydesk config check`` and ``paydesk apikey list``.

The main flows run with every log record captured at DEBUG and every response of the API
recorded at the ASGI level (so the answers the sandbox gets to its notifications count too):
login, orders, pay on v3 and v2 with the notifications that follow, a refund, the cashier's
pages on each road, a customer-service push, errors of every kind, and the documentation. Then
each secret — APIv3 and APIv2 keys, every line of each private key, app secrets, push tokens,
EncodingAESKeys, virtual-payment app keys, the link-signing key, the user's ``session_key``
and the plaintext API key — is looked for in all of it.
"""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from typer.testing import CliRunner

from paydesk.cli import app as cli
from paydesk.domain.users import authenticate
from paydesk.sandbox import SandboxCredentials
from paydesk.settings.config import PaydeskConfig
from tests.domain.notifications.world import pay_at_sandbox, paying_order, refund_at_sandbox
from tests.domain.push.support import new_person, point_pushes_at_paydesk, text, user_writes
from tests.domain.users.support import log_in, pay, payer_pays
from tests.stack import CERTIFICATE_MCHID, MINI_APPID, PUBLIC_KEY_MCHID, Stack, StackFactory

pytestmark = pytest.mark.backends

WECHAT_UA = "Mozilla/5.0 (iPhone) AppleWebKit/605.1.15 Mobile/15E148 MicroMessenger/8.0.49"
PHONE_UA = "Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/126.0.0.0 Mobile Safari/537.36"
DESKTOP_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0.0.0 Safari/537.36"


class ResponseRecorder:
    """ASGI middleware keeping every response's status line, headers and body chunks."""

    def __init__(self, app: ASGIApp, seen: list[tuple[str, bytes]]) -> None:
        self.app = app
        self.seen = seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        where = f"{scope.get('method', scope['type'])} {scope.get('path', '')}"

        async def recording(message: Message) -> None:
            if message["type"] == "http.response.start":
                lines = [name + b": " + value for name, value in message.get("headers", [])]
                self.seen.append((f"{where} → headers", b"\n".join(lines)))
            elif message["type"] == "http.response.body":
                self.seen.append((f"{where} → body", message.get("body", b"")))
            await send(message)

        await self.app(scope, receive, recording)


def private_key_lines(pem: str) -> Iterator[str]:
    """The base64 lines of a PEM body: any one of them showing up is a leak."""
    for line in pem.splitlines():
        if line and not line.startswith("-----") and len(line) >= 40:
            yield line


def configured_secrets(config: PaydeskConfig) -> dict[str, str]:
    """Every secret of every merchant and app in ``config``, by where it comes from."""
    found: dict[str, str] = {}
    for merchant in config.merchants:
        for name in ("apiv3_key", "v2_key"):
            value = getattr(merchant, name)
            if value is not None:
                found[f"{merchant.mchid} {name}"] = value.get_secret_value()
        pem = merchant.private_key.get_secret_value() if merchant.private_key else ""
        for n, line in enumerate(private_key_lines(pem)):
            found[f"{merchant.mchid} private key line {n}"] = line
    for app in config.apps:
        for name in ("secret", "push_token", "encoding_aes_key", "virtual_pay_app_key"):
            value = getattr(app, name)
            if value is not None:
                found[f"{app.appid} {name}"] = value.get_secret_value()
    return found


def leaks(secrets: dict[str, str], seen: list[tuple[str, str]]) -> list[str]:
    """Where each secret appears in what was ``seen``: ``["<secret> in <where>", ...]``."""
    assert all(len(value) >= 12 for value in secrets.values()), "a secret too short to search"
    return [
        f"{name} in {where}: …{text[max(0, text.find(value) - 60) : text.find(value) + 20]}…"
        for name, value in secrets.items()
        for where, text in seen
        if value in text
    ]


def log_texts(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    """Every captured record as it would be written, traceback included."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return [(f"log {record.name}", formatter.format(record)) for record in caplog.records]


@pytest.fixture
def recorded() -> list[tuple[str, bytes]]:
    return []


async def recording_stack(
    make_stack: StackFactory, recorded: list[tuple[str, bytes]], **options: object
) -> Stack:
    stack = await make_stack(settings={"sandbox": True}, **options)
    stack.app.add_middleware(ResponseRecorder, seen=recorded)  # before the first request
    return stack


async def walk_the_main_flows(stack: Stack) -> str:
    """Every flow of the API once; returns the user's session_key (to look for it)."""
    user = await log_in(stack)
    again = await stack.api.post(
        "/api/v1/auth/miniprogram", json={"appid": MINI_APPID, "code": user.code}
    )
    assert again.status_code == 200, again.text  # the same code: the same session
    order = await stack.create_order(amount=321, attach="a", metadata={"k": "v"})
    paid = await pay(stack, order["id"], user)
    assert paid.status_code == 200, paid.text
    assert (await payer_pays(stack, paid.json()["params"])).status_code == 200
    await stack.sandbox.pay.drain()
    synced = await stack.api.get(f"/api/v1/orders/{order['id']}?sync=true", headers=user.headers)
    assert synced.json()["state"] == "PAID", synced.text
    await stack.api.get("/api/v1/orders", headers=stack.merchant_headers)

    paying = await paying_order(stack, mchid=CERTIFICATE_MCHID, amount=500)
    await pay_at_sandbox(stack, paying)
    refund = await refund_at_sandbox(stack, paying, 200)
    await stack.api.get(f"/api/v1/refunds/{refund['id']}", headers=stack.merchant_headers)

    await walk_the_cashier(stack)
    await push_a_message(stack)
    await make_mistakes(stack)
    for page in ("/openapi.json", "/docs", "/redoc", "/healthz", "/readyz"):
        assert (await stack.api.get(page)).status_code == 200
    return (await authenticate(stack.services, user.token)).session_key


async def walk_the_cashier(stack: Stack) -> None:
    order = await stack.create_order(amount=990, mchid=PUBLIC_KEY_MCHID)
    link = await stack.api.post(
        f"/api/v1/orders/{order['id']}/cashier", headers=stack.merchant_headers
    )
    url = link.json()["url"]
    for agent in (WECHAT_UA, PHONE_UA, DESKTOP_UA):
        page = await stack.api.get(url, headers={"User-Agent": agent})
        assert page.status_code in (200, 302), page.text
    for tail in ("/status", "/result", "/oauth?code=nope&state=nope"):
        await stack.api.get(url + tail, headers={"User-Agent": DESKTOP_UA})
    merchant_pay = await stack.api.post(
        f"/api/v1/orders/{order['id']}/pay",
        json={"channel": "native"},
        headers=stack.merchant_headers,
    )
    assert merchant_pay.status_code == 200, merchant_pay.text


async def push_a_message(stack: Stack) -> None:
    await point_pushes_at_paydesk(stack)
    person = await new_person(stack)
    record = await user_writes(stack, person["openid"], text("hello 你好"))
    assert record["delivered"], record
    check = await stack.sandbox_client.post("/_sandbox/push-check", json={"appid": MINI_APPID})
    assert check.status_code == 200, check.text
    await stack.app.state.push_runtime.drain()


async def make_mistakes(stack: Stack) -> None:
    """Errors of every kind (their messages must not quote configuration)."""
    headers = stack.merchant_headers
    await stack.api.get("/api/v1/orders", headers={"Authorization": "Bearer pdk_wrong"})
    await stack.api.get("/api/v1/orders/ord_missing", headers=headers)
    await stack.api.post("/api/v1/orders", content=b'{"amount": ', headers=headers)
    await stack.api.post("/api/v1/orders", json={"amount": 1.5}, headers=headers)
    await stack.api.post("/api/v1/orders", content=b"x" * 70_000, headers=headers)
    await stack.api.post("/api/v1/auth/miniprogram", json={"appid": MINI_APPID, "code": "used"})
    await stack.api.post(f"/api/v1/notify/wechatpay/v3/{PUBLIC_KEY_MCHID}", json={"id": "x"})
    await stack.api.post(f"/api/v1/notify/wechatpay/v2/{CERTIFICATE_MCHID}", content=b"<xml/>")
    await stack.api.post(
        f"/wechat/push/{MINI_APPID}",
        params={"signature": "0" * 40, "timestamp": "1", "nonce": "n"},
        content=b"<xml/>",
    )


async def test_the_main_flows_leak_no_secret(
    make_stack: StackFactory, recorded: list[tuple[str, bytes]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    stack = await recording_stack(make_stack, recorded, api_versions={CERTIFICATE_MCHID: "v2"})
    session_key = await walk_the_main_flows(stack)

    secrets = configured_secrets(stack.services.registry.config)
    secrets |= {
        "session_key": session_key,
        "API key": stack.api_key,
        "link-signing key": stack.services.secret_key.decode(),
    }
    seen = [(where, body.decode("utf-8", "replace")) for where, body in recorded]
    assert len(seen) > 60, "the flows did not run"
    assert len(caplog.records) > 20, "nothing was logged"
    found = leaks(secrets, [*seen, *log_texts(caplog)])
    assert not found, "\n".join(found)


# --- the CLI -----------------------------------------------------------------------------------

DATABASE_PASSWORD = "db-pass-9c1e5f0b7a"
REDIS_PASSWORD = "redis-pass-4d2a8e6c1f"


def config_file(directory: Path, credentials: SandboxCredentials) -> Path:
    """A config naming every kind of secret: inline, in a file, and in the environment."""
    merchant = credentials.merchants[0]
    app = next(a for a in credentials.apps if a.type == "miniprogram")
    (directory / "apiclient_key.pem").write_text(merchant.merchant_private_key_pem, "utf-8")
    (directory / "pub_key.pem").write_text(merchant.platform_public_key_pem or "", "utf-8")
    path = directory / "paydesk.toml"
    path.write_text(
        textwrap.dedent(
            f"""
            [[merchants]]
            mchid = "{merchant.mchid}"
            serial_no = "{merchant.merchant_serial_no}"
            private_key = {{ file = "apiclient_key.pem" }}
            apiv3_key = "{merchant.apiv3_key}"
            v2_key = {{ env = "TEST_V2_KEY" }}
            platform_public_key_id = "{merchant.platform_public_key_id}"
            platform_public_key = {{ file = "pub_key.pem" }}

            [[apps]]
            appid = "{app.appid}"
            type = "miniprogram"
            secret = "{app.secret}"
            push_token = "{app.push_token}"
            encoding_aes_key = "{app.encoding_aes_key}"
            virtual_pay_app_key = "{app.virtual_pay_app_key}"
            merchants = ["{merchant.mchid}"]
            """
        ),
        "utf-8",
    )
    return path


def test_config_check_and_apikey_list_print_no_secret(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    fresh_database_url: str,
    sandbox_credentials: SandboxCredentials,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    merchant = sandbox_credentials.merchants[0]
    with_password = f"postgresql://paydesk:{DATABASE_PASSWORD}@db.invalid/paydesk"  # offline
    for name in ("ENVIRONMENT", "PUBLIC_URL", "SANDBOX"):
        monkeypatch.delenv(f"PAYDESK_{name}", raising=False)
    monkeypatch.setenv("PAYDESK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PAYDESK_CONFIG_FILE", str(config_file(tmp_path, sandbox_credentials)))
    monkeypatch.setenv("TEST_V2_KEY", merchant.v2_key)
    monkeypatch.setenv("PAYDESK_REDIS_URL", f"redis://:{REDIS_PASSWORD}@127.0.0.1:6399/0")
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()

    checked = runner.invoke(cli, ["config", "check"], env={"PAYDESK_DATABASE_URL": with_password})
    monkeypatch.setenv("PAYDESK_DATABASE_URL", fresh_database_url)
    assert "merchant " + merchant.mchid in checked.output, checked.output
    assert "db.invalid" in checked.output  # the database is shown, its password is not
    migrated = runner.invoke(cli, ["db", "upgrade"])
    assert migrated.exit_code == 0, migrated.output
    created = runner.invoke(cli, ["apikey", "create", "--name", "shop"])
    assert created.exit_code == 0, created.output
    [api_key] = [word for word in created.output.split() if word.startswith("pdk_")]
    listed = runner.invoke(cli, ["apikey", "list"])
    assert listed.exit_code == 0, listed.output
    assert "shop" in listed.output

    secrets = {
        "apiv3_key": merchant.apiv3_key,
        "v2_key": merchant.v2_key,
        **{
            f"private key line {n}": line
            for n, line in enumerate(private_key_lines(merchant.merchant_private_key_pem))
        },
        **{
            name: getattr(sandbox_credentials.apps[0], name)
            for name in ("secret", "push_token", "encoding_aes_key", "virtual_pay_app_key")
        },
        "database password": DATABASE_PASSWORD,
        "redis password": REDIS_PASSWORD,
        "API key": api_key,
    }
    seen = [
        ("config check", checked.output),
        ("apikey list", listed.output),
        *log_texts(caplog),
    ]
    found = leaks(secrets, seen)
    assert not found, "\n".join(found)
