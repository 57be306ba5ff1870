"""LeanRoute: served without dependency solving, documented like any route, and refused when
declared with a parameter it would leave unsolved."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request, Response

from paydesk.api.lean import LeanRoute
from paydesk.api.routes import notify
from tests.stack import Stack


async def test_the_endpoint_gets_its_path_parameters_and_the_request() -> None:
    router = APIRouter(prefix="/hooks", route_class=LeanRoute)

    @router.post("/{mchid}/{kind}", status_code=204, response_class=Response)
    async def hook(mchid: str, kind: str, request: Request) -> Response:
        body = await request.body()
        return Response(f"{mchid} {kind} {body.decode()}", 202)

    app = FastAPI()
    app.include_router(router)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        response = await client.post("/hooks/1900000001/refund", content=b"hello")
    assert (response.status_code, response.text) == (202, "1900000001 refund hello")
    operation = app.openapi()["paths"]["/hooks/{mchid}/{kind}"]["post"]
    assert [p["name"] for p in operation["parameters"]] == ["mchid", "kind"]


def test_a_plain_function_endpoint_is_refused() -> None:
    router = APIRouter(route_class=LeanRoute)
    with pytest.raises(TypeError, match="must be async"):

        @router.post("/{mchid}")
        def hook(mchid: str, request: Request) -> Response:
            return Response()


async def test_the_notify_urls_are_lean_and_documented(stack: Stack) -> None:
    assert all(isinstance(route, LeanRoute) for route in notify.router.routes)
    paths = stack.app.openapi()["paths"]
    for version in ("v3", "v2"):
        operation = paths[f"/api/v1/notify/wechatpay/{version}/{{mchid}}"]["post"]
        assert [p["name"] for p in operation["parameters"]] == ["mchid"]
