"""``build_runtime``: the embedded default (sandbox mounted and used as WeChat, both ways
in-process), production from a config file, the sandbox on demand, and the lifespan."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from paydesk.api.app import SHUTDOWN_GRACE_SECONDS
from paydesk.api.serve import (
    SANDBOX_PATH,
    Runtime,
    SelfTransport,
    ServeConfigError,
    build_runtime,
    serve_settings,
)
from paydesk.db.migrate import current_revision_async, head_revision
from paydesk.domain.context import Services
from paydesk.domain.push import PushRuntime
from paydesk.sandbox import SandboxCredentials
from paydesk.sandbox.credentials import CREDENTIALS_FILE
from paydesk.settings import Settings
from tests.serving import write_config_file

MINI_APPID = "wx5a0d5a0d00000001"


def embedded(tmp_path: Path, credentials: SandboxCredentials) -> Runtime:
    settings = Settings(data_dir=tmp_path, public_url="http://127.0.0.1:8000")
    return build_runtime(settings, sandbox_credentials=credentials)


def test_serve_settings_follow_host_and_port_unless_public_url_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PAYDESK_PUBLIC_URL", raising=False)
    assert serve_settings("0.0.0.0", 9000).public_url == "http://127.0.0.1:9000"
    monkeypatch.setenv("PAYDESK_PUBLIC_URL", "https://pay.example.com")
    assert serve_settings("0.0.0.0", 9000).public_url == "https://pay.example.com"


async def test_the_embedded_app_mounts_the_sandbox_and_uses_it_as_wechat_in_process(
    tmp_path: Path, sandbox_credentials: SandboxCredentials
) -> None:
    runtime = embedded(tmp_path, sandbox_credentials)
    assert runtime.sandbox is not None
    assert runtime.sandbox_url == "http://127.0.0.1:8000/sandbox"
    assert runtime.sandbox_log_url == "http://127.0.0.1:8000/sandbox/_sandbox/log"
    assert runtime.docs_url == "http://127.0.0.1:8000/docs"
    assert [m.mchid for m in runtime.config.merchants] == ["1900000001", "1900000002"]
    assert runtime.services.wechat.endpoints.pay_base_url == runtime.sandbox_url
    assert runtime.services.wechat.endpoints.api_base_url == runtime.sandbox_url

    first_key = await runtime.prepare()
    assert first_key is not None
    assert first_key.startswith("pdk_")
    assert await runtime.prepare() is None  # the key is made, and shown, once
    async with runtime.running(), runtime.client() as http:
        orders = await http.get("/api/v1/orders", headers={"Authorization": f"Bearer {first_key}"})
        assert orders.status_code == 200, orders.text
        code = (
            await http.post(f"{SANDBOX_PATH}/_sandbox/login-code", json={"appid": MINI_APPID})
        ).json()
        # paydesk's WeChat client reaches the mounted sandbox through the app itself.
        wechat = runtime.services.wechat
        session = await wechat.login.code_to_session(wechat.apps[MINI_APPID], code["code"])
        assert session.openid == code["openid"]
        docs = await http.get("/docs")
        assert docs.status_code == 200
        assert "swagger" in docs.text.lower()


async def test_sandbox_keys_are_made_on_the_first_start_and_kept(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, public_url="http://127.0.0.1:8000")
    first = build_runtime(settings)
    assert (tmp_path / "sandbox" / CREDENTIALS_FILE).exists()
    second = build_runtime(settings)
    assert first.sandbox is not None
    assert second.sandbox is not None
    assert second.sandbox.credentials == first.sandbox.credentials
    await first.services.aclose()
    await second.services.aclose()


async def test_a_config_file_means_real_wechat_and_no_sandbox(
    tmp_path: Path, sandbox_credentials: SandboxCredentials
) -> None:
    config_file = write_config_file(tmp_path, sandbox_credentials)
    runtime = build_runtime(
        Settings(data_dir=tmp_path, config_file=config_file, public_url="http://127.0.0.1:8000")
    )
    assert runtime.sandbox is None
    assert runtime.sandbox_url is None
    assert runtime.sandbox_log_url is None
    assert [m.mchid for m in runtime.config.merchants] == ["1900000001"]
    assert runtime.services.wechat.endpoints.pay_base_url == "https://api.mch.weixin.qq.com"
    assert not (tmp_path / "sandbox").exists()
    assert await runtime.prepare() is None  # migrated, but no key printed into production logs
    assert await current_revision_async(runtime.services.engine) == head_revision()
    async with runtime.running(), runtime.client() as http:
        assert (await http.get("/sandbox/_sandbox/credentials")).status_code == 404
        assert (await http.get("/healthz")).json() == {"ok": True}


async def test_paydesk_sandbox_true_mounts_the_sandbox_beside_a_config_file(
    tmp_path: Path, sandbox_credentials: SandboxCredentials
) -> None:
    config_file = write_config_file(tmp_path, sandbox_credentials)
    runtime = build_runtime(
        Settings(data_dir=tmp_path, config_file=config_file, sandbox=True),
        sandbox_credentials=sandbox_credentials,
    )
    assert runtime.sandbox is not None
    assert [m.mchid for m in runtime.config.merchants] == ["1900000001"]  # the file's, not all
    assert runtime.services.wechat.endpoints.pay_base_url == "http://127.0.0.1:8000/sandbox"
    async with runtime.running(), runtime.client() as http:
        assert (await http.get("/sandbox/_sandbox/credentials")).status_code == 200


def test_production_without_a_config_file_is_refused(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, environment="production", secret_key="Qx7vN2pLmR9tW4yZ8bC3dF6gH1jK5sA0eU"
    )
    with pytest.raises(ServeConfigError, match="PAYDESK_CONFIG_FILE"):
        build_runtime(settings)


async def test_background_jobs_start_with_the_app_and_are_cancelled_when_it_stops(
    tmp_path: Path, sandbox_credentials: SandboxCredentials
) -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()
    seen: list[Services] = []

    async def job(services: Services) -> None:
        seen.append(services)
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    runtime = build_runtime(
        Settings(data_dir=tmp_path), sandbox_credentials=sandbox_credentials, background=[job]
    )
    async with runtime.running():
        await asyncio.wait_for(started.wait(), 5)
        assert not cancelled.is_set()
    assert cancelled.is_set()
    assert seen == [runtime.services]


async def test_a_public_url_with_a_path_prefix_still_reaches_the_sandbox_in_process(
    tmp_path: Path, sandbox_credentials: SandboxCredentials
) -> None:
    runtime = build_runtime(
        Settings(data_dir=tmp_path, public_url="https://shop.example/paydesk/"),
        sandbox_credentials=sandbox_credentials,
    )
    assert runtime.sandbox_url == "https://shop.example/paydesk/sandbox"
    async with runtime.running(), runtime.client() as http:
        code = (await http.post("/sandbox/_sandbox/login-code", json={"appid": MINI_APPID})).json()
        wechat = runtime.services.wechat
        session = await wechat.login.code_to_session(wechat.apps[MINI_APPID], code["code"])
        assert session.openid == code["openid"]


async def test_the_self_transport_refuses_before_the_app_exists() -> None:
    transport = SelfTransport()
    async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
        with pytest.raises(httpx.ConnectError, match="not built yet"):
            await client.get("/healthz")


async def test_stopping_the_app_gives_pushes_work_in_flight_its_grace(
    tmp_path: Path, sandbox_credentials: SandboxCredentials
) -> None:
    graces: list[float] = []

    class RecordingRuntime(PushRuntime):
        async def shutdown(self, grace_seconds: float) -> None:
            graces.append(grace_seconds)
            await super().shutdown(grace_seconds)

    runtime = embedded(tmp_path, sandbox_credentials)
    async with runtime.running():
        runtime.app.state.push_runtime = RecordingRuntime()
    assert graces == [SHUTDOWN_GRACE_SECONDS]
