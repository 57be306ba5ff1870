"""What the browser tests share: user agents, viewports, the merchant's calls, screenshots."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page

from tests.serving import free_port

WECHAT_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Mobile/15E148 MicroMessenger/8.0.49(0x18003129) NetType/WIFI Language/zh_CN"
)
PHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
DESKTOP_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True}
DESKTOP = {"viewport": {"width": 1280, "height": 860}}


class ShiftedClock:
    """The wall clock, plus an offset a test may move forward (the app runs on it)."""

    def __init__(self) -> None:
        self._offset = timedelta()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The shifted time, aware UTC."""
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, seconds: float) -> None:
        """Move the app's time forward."""
        with self._lock:
            self._offset += timedelta(seconds=seconds)


@dataclass
class Cashier:
    """The running app, and what a merchant backend would do with it."""

    base_url: str
    api_key: str
    clock: ShiftedClock = field(default_factory=ShiftedClock)

    def link(self, **order: Any) -> tuple[dict[str, Any], str]:
        """A new order (the merchant's POST /orders) and its cashier link."""
        body = {"merchant_order_id": f"web-{free_port()}-{id(order)}", "amount": 2590,
                "description": "年度会员 Annual membership", **order}  # fmt: skip
        created: dict[str, Any] = self.merchant("POST", "/api/v1/orders", 201, json=body).json()
        link = self.merchant("POST", f"/api/v1/orders/{created['id']}/cashier", 200)
        return created, link.json()["url"]

    def order(self, order_id: str) -> dict[str, Any]:
        """The order as the merchant backend reads it (no sync: the server's stored word)."""
        result: dict[str, Any] = self.merchant("GET", f"/api/v1/orders/{order_id}", 200).json()
        return result

    def close(self, order_id: str) -> dict[str, Any]:
        """The merchant closes the order."""
        path = f"/api/v1/orders/{order_id}/close"
        result: dict[str, Any] = self.merchant("POST", path, 200).json()
        return result

    def merchant(self, method: str, path: str, status: int, **kwargs: Any) -> httpx.Response:
        """A call of the merchant API with the app's key, which must answer ``status``."""
        headers = {"Authorization": f"Bearer {self.api_key}"}
        with httpx.Client(base_url=self.base_url, headers=headers, timeout=10) as http:
            answer = http.request(method, path, **kwargs)
        assert answer.status_code == status, answer.text
        return answer

    def sandbox(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A call to the mounted sandbox's control API."""
        with httpx.Client(base_url=f"{self.base_url}/sandbox", timeout=10) as http:
            return http.request(method, path, **kwargs)


def screenshot(page: Page, artifacts: Path, name: str) -> Path:
    """Save a full-page screenshot as ``test-artifacts/cashier-<name>.png``."""
    path = artifacts / f"cashier-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000
    return path
