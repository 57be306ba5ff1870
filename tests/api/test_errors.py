"""The error shape and the OpenAPI document that declares it, on a small app of their own."""

from __future__ import annotations

import logging
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Body, FastAPI
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from paydesk.api.errors import (
    UNDECLARED_DOMAIN_ERRORS,
    ErrorBody,
    error_responses,
    install_error_handlers,
)
from paydesk.domain.errors import Conflict, RateLimited

UNREACHABLE: dict[str, Exception] = {
    "refused": ConnectionRefusedError(111, "Connect call failed ('10.0.0.9', 5432)"),
    "lost": OperationalError("SELECT 1", None, Exception("connection was closed in the middle")),
    "pool": PoolTimeout("QueuePool limit of size 20 overflow 10 reached"),
}


class Thing(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    count: int


def small_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/things/{thing_id}", responses=error_responses(404, 409))
    async def make(thing_id: str, thing: Thing) -> dict[str, Any]:
        if thing.name == "taken":
            raise Conflict("thing_taken", "that name is taken", holder="thing_1")
        if thing.name == "busy":
            raise RateLimited("slow_down", "too many things")
        if thing.name == "bug":
            raise ZeroDivisionError("internal detail: the ledger")
        if thing.name in UNREACHABLE:
            raise UNREACHABLE[thing.name]
        return {"id": thing_id}

    @app.post("/raw")
    async def raw(payload: Annotated[Any, Body()]) -> dict[str, Any]:
        return {"got": payload}

    @app.get("/plain")
    async def plain() -> dict[str, Any]:
        return {}

    return app


@pytest.fixture
async def client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=small_app(), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def error_of(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = ErrorBody.model_validate(response.json()).model_dump()["error"]
    return error


async def test_a_domain_error_keeps_its_status_code_and_details(client: httpx.AsyncClient) -> None:
    taken = await client.post("/things/1", json={"name": "taken", "count": 1})
    assert taken.status_code == 409
    assert error_of(taken) | {"holder": "thing_1"} == error_of(taken)
    assert error_of(taken)["code"] == "thing_taken"
    busy = await client.post("/things/1", json={"name": "busy", "count": 1})
    assert (busy.status_code, busy.headers["retry-after"]) == (429, "1")


async def test_an_invalid_field_is_a_400_naming_it(client: httpx.AsyncClient) -> None:
    response = await client.post("/things/1", json={"name": "a", "count": "many"})
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_request"
    assert error["message"].startswith("count: ")
    assert error["fields"][0]["field"] == "count"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"name": ', "body: not valid JSON: Expecting value at character 9"),
        (b"[" * 30_000 + b"]" * 30_000, "body: not valid JSON: nested too deeply"),
        (b'{"name": "\xff"}', "body: not valid JSON: not UTF-8 at byte 10"),
        (b"", "body: Field required"),
    ],
    ids=["truncated", "deep", "not-utf8", "missing"],
)
async def test_a_body_that_cannot_be_read_is_a_400_saying_why(
    client: httpx.AsyncClient, body: bytes, message: str
) -> None:
    response = await client.post(
        "/things/1", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert error_of(response)["message"] == message


async def test_a_body_of_another_media_type_is_a_415(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/things/1", content=b"name=a", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 415, response.text
    error = error_of(response)
    assert error["code"] == "unsupported_media_type"
    assert "application/json" in error["message"]
    assert "'text/plain'" in error["message"]


async def test_json_flavours_are_json(client: httpx.AsyncClient) -> None:
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = await client.post(
            "/raw", content=b'{"a": 1}', headers={"Content-Type": content_type}
        )
        assert response.json() == {"got": {"a": 1}}, content_type


async def test_a_bug_is_a_500_that_shows_nothing_of_it(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="paydesk.api"):
        response = await client.post("/things/1", json={"name": "bug", "count": 1})
    assert response.status_code == 500
    assert error_of(response)["code"] == "internal_error"
    assert "ledger" not in response.text
    assert "ZeroDivisionError" not in response.text
    assert any("ledger" in (record.exc_text or "") for record in caplog.records)


@pytest.mark.parametrize("cause", sorted(UNREACHABLE))
async def test_a_database_that_does_not_answer_is_a_503_saying_to_retry(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, cause: str
) -> None:
    with caplog.at_level(logging.ERROR, logger="paydesk.api"):
        response = await client.post("/things/1", json={"name": cause, "count": 1})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    error = error_of(response)
    assert error["code"] == "database_unavailable"
    assert "again in 2 s" in error["message"]
    assert "10.0.0.9" not in response.text  # the cause is logged, not shown
    logged = [r for r in caplog.records if "database unavailable" in r.getMessage()]
    assert len(logged) == 1
    assert logged[0].exc_info is not None  # with the cause, for the operator


async def test_unknown_paths_and_methods_keep_the_shape(client: httpx.AsyncClient) -> None:
    assert error_of(await client.get("/nowhere"))["code"] == "not_found"
    assert error_of(await client.delete("/plain"))["code"] == "method_not_allowed"


def test_the_document_declares_the_400_we_send_instead_of_fastapis_422() -> None:
    document = small_app().openapi()
    make = document["paths"]["/things/{thing_id}"]["post"]["responses"]
    assert "422" not in make
    assert set(make) == {"200", "400", "404", "409", "413", "414", "415", "431", "503"}
    for status in ("400", "409", "413", "503"):
        assert make[status]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorBody"
        }
    schemas = document["components"]["schemas"]
    assert {"ErrorBody", "ErrorDetail", "FieldProblem"} <= set(schemas)
    assert not {"HTTPValidationError", "ValidationError"} & set(schemas)


def test_an_operation_naming_no_errors_declares_every_domain_error() -> None:
    document = small_app().openapi()
    raw = document["paths"]["/raw"]["post"]["responses"]
    assert {str(status) for status in UNDECLARED_DOMAIN_ERRORS} <= set(raw)
    plain = document["paths"]["/plain"]["get"]["responses"]
    assert set(plain) == {"200", "414", "431", "503"}  # no input: size limits, the database


def test_a_route_added_later_is_documented_too() -> None:
    app = small_app()
    assert "/later" not in app.openapi()["paths"]

    @app.get("/later/{n}")
    async def later(n: int) -> dict[str, Any]:
        return {}

    responses = app.openapi()["paths"]["/later/{n}"]["get"]["responses"]
    assert "422" not in responses
    assert {"400", "404"} <= set(responses)
    assert app.openapi() is app.openapi()
