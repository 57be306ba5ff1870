"""Every error leaves as ``{"error": {"code", "message", "request_id"}}`` with the right status.

Domain errors carry their own status and code; malformed requests get 400 with the exact field
and problem; an unknown route 404; anything unexpected 500 without internals (logged with the
request id).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from paydesk.domain.errors import DomainError, RateLimited

log = logging.getLogger("paydesk.api")


def error_response(
    request: Request, status: int, code: str, message: str, **extra: Any
) -> JSONResponse:
    """The one error shape."""
    body: dict[str, Any] = {
        "code": code,
        "message": message,
        "request_id": getattr(request.state, "request_id", None),
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    headers = {}
    if status == 429 and "retry_after" in extra:
        headers["Retry-After"] = str(extra["retry_after"])
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[0] if loc else "request")


def install_error_handlers(app: FastAPI) -> None:
    """Map every exception class to the error shape."""

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> JSONResponse:
        extra = dict(exc.details)
        if isinstance(exc, RateLimited):
            extra.setdefault("retry_after", 1)
        return error_response(request, exc.status, exc.code, exc.message, **extra)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": _field(tuple(e.get("loc", ()))), "problem": e.get("msg", "invalid")}
            for e in exc.errors()
        ]
        first = problems[0] if problems else {"field": "request", "problem": "invalid"}
        message = f"{first['field']}: {first['problem']}"
        return error_response(request, 400, "invalid_request", message, fields=problems)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(
            exc.status_code, "http_error"
        )
        return error_response(request, exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error (request %s)", getattr(request.state, "request_id", "?"))
        return error_response(
            request, 500, "internal_error", "something went wrong on our side; it was logged"
        )
