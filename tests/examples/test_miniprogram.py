"""examples/miniprogram: every script passes ``node --check``, the pages the app declares exist,
the iOS contact button sends a card the detour understands — and the pay page itself runs in
Node (tests/examples/wx_harness.js) against ``paydesk serve`` over real HTTP: log in, pay,
cancel, iOS."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from paydesk.domain.push.references import in_page_path
from paydesk.sandbox import SandboxCredentials
from tests.serving import free_port, serve_embedded
from tests.stack import MINI_APPID

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "miniprogram"
HARNESS = Path(__file__).with_name("wx_harness.js")
NODE = "/usr/bin/node"
SCRIPTS = sorted(EXAMPLE.rglob("*.js"))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(EXAMPLE)))
def test_every_script_parses(script: Path) -> None:
    checked = subprocess.run(
        [NODE, "--check", str(script)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stderr


def test_the_example_has_its_scripts() -> None:
    names = {str(p.relative_to(EXAMPLE)) for p in SCRIPTS}
    assert {"app.js", "utils/api.js", "pages/index/index.js", "pages/pay/pay.js"} <= names


def test_every_declared_page_exists_and_every_json_file_parses() -> None:
    for path in EXAMPLE.rglob("*.json"):
        json.loads(path.read_text(encoding="utf-8"))
    app = json.loads((EXAMPLE / "app.json").read_text(encoding="utf-8"))
    assert app["pages"] == ["pages/index/index", "pages/pay/pay"]
    for page in app["pages"]:
        for suffix in (".js", ".wxml", ".json", ".wxss"):
            assert (EXAMPLE / f"{page}{suffix}").is_file(), f"{page}{suffix}"
    assert (EXAMPLE / app["sitemapLocation"]).is_file()


def test_the_ios_contact_button_sends_a_card_the_detour_reads() -> None:
    wxml = (EXAMPLE / "pages" / "pay" / "pay.wxml").read_text(encoding="utf-8")
    found = re.search(r'<button[^>]*open-type="contact"[^>]*>', wxml)
    assert found, "no contact button"
    button = found.group(0)
    assert "show-message-card" in button
    assert 'send-message-title="{{cardTitle}}"' in button
    path = re.search(r'send-message-path="([^"]+)"', button)
    assert path is not None
    assert path.group(1) == "pages/pay/pay?order={{orderId}}"
    card_path = path.group(1).replace("{{orderId}}", "ord_01KDVDNA00000000000000000Z")
    assert in_page_path(card_path).order_ids == ("ord_01KDVDNA00000000000000000Z",)
    assert re.search(r'wx:if="\{\{!ios\}\}"[^>]*bindtap="pay"', wxml), "iOS must not pay here"


def test_cancel_is_recognised_by_wechats_exact_message() -> None:
    api = (EXAMPLE / "utils" / "api.js").read_text(encoding="utf-8")
    assert 'err.errMsg === "requestPayment:fail cancel"' in api
    assert '"/api/v1/auth/miniprogram"' in api
    assert '"?sync=true"' in api


# --- the pay page, running -------------------------------------------------------------------


@dataclass
class Served:
    """``paydesk serve`` on a free port, and its first API key."""

    base_url: str
    api_key: str

    def order(self, **fields: Any) -> dict[str, Any]:
        body = {"merchant_order_id": f"mp-{free_port()}", "amount": 1990, "description": "月卡"}
        headers = {"Authorization": f"Bearer {self.api_key}"}
        with httpx.Client(base_url=self.base_url, headers=headers, timeout=10) as http:
            created = http.post("/api/v1/orders", json=body | fields)
            assert created.status_code == 201, created.text
            result: dict[str, Any] = created.json()
            return result

    def state(self, order_id: str) -> str:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        with httpx.Client(base_url=self.base_url, headers=headers, timeout=10) as http:
            state: str = http.get(f"/api/v1/orders/{order_id}").json()["state"]
            return state

    def run_page(self, order_id: str, **scenario: Any) -> list[dict[str, Any]]:
        """The pay page's steps in Node: ``[{"step", "result", "data"}, …]``."""
        given = {
            "example": str(EXAMPLE),
            "paydesk": self.base_url,
            "sandbox": f"{self.base_url}/sandbox",
            "appid": MINI_APPID,
            "order": order_id,
            "platform": "android",
            **scenario,
        }
        ran = subprocess.run(
            [NODE, str(HARNESS), json.dumps(given)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert ran.returncode == 0, ran.stderr
        steps: list[dict[str, Any]] = json.loads(ran.stdout)
        return steps


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, sandbox_credentials: SandboxCredentials
) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("miniprogram")
    with serve_embedded(data_dir, sandbox_credentials) as (base_url, api_key):
        yield Served(base_url, api_key)


def test_the_page_logs_in_pays_and_asks_the_server(served: Served) -> None:
    order = served.order(amount=1990)
    load, paid = served.run_page(order["id"], pay=True)
    assert load["result"] == "open"
    assert (load["data"]["amountText"], load["data"]["ios"]) == ("19.90", False)
    assert (paid["result"], paid["data"]["phase"]) == ("paid", "paid")
    assert served.state(order["id"]) == "PAID"


def test_a_cancelled_payment_leaves_the_order_payable(served: Served) -> None:
    order = served.order()
    _, cancelled = served.run_page(order["id"], pay=True, payment="cancel")
    assert cancelled["result"] == "cancel"
    assert cancelled["data"]["phase"] == "open"
    assert cancelled["data"]["message"] == "已取消支付，可以再次支付。"
    assert served.state(order["id"]) == "PAYING"  # a prepay exists; nothing was paid
    _, paid = served.run_page(order["id"], pay=True)  # and it can be paid after all
    assert paid["result"] == "paid"


def test_on_ios_the_page_offers_the_detour_card(served: Served) -> None:
    order = served.order(amount=2500, description="年卡")
    [load] = served.run_page(order["id"], platform="ios")
    assert load["data"]["ios"] is True
    assert load["data"]["cardTitle"] == "年卡 ¥25.00"
    assert load["data"]["orderId"] == order["id"]


def test_an_order_that_is_not_there_shows_an_error(served: Served) -> None:
    [load] = served.run_page("ord_01KDVDNA00000000000000000Z")
    assert load["result"] == "error"
    assert load["data"]["message"] == "no order ord_01KDVDNA00000000000000000Z"
