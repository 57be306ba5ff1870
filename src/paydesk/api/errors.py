"""Every error leaves as ``{"error": {"code", "message", "request_id"}}`` with the right status.

Domain errors carry their own status and code; malformed requests get 400 with the exact field
and problem; an unknown route 404; a database that does not answer (down, restarting, its pool
exhausted) 503 with ``Retry-After``: the same request may be sent again (a create with the same
``Idempotency-Key`` or ``merchant_order_id`` cannot make a second order, a pay reuses its prepay);
anything unexpected 500 without internals (logged with the request id).

The OpenAPI document says the same: :func:`install_error_handlers` also rewrites each
operation's error responses (FastAPI's default 422 becomes the 400 we send, each in
:class:`ErrorBody`'s shape), and a route names its domain errors with :func:`error_responses`::

    @router.post("/{order_id}/close", responses=error_responses(404, 409, 502))
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.constants import REF_PREFIX
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from paydesk.db.errors import DATABASE_UNAVAILABLE
from paydesk.domain.errors import DomainError, RateLimited

BodyModel = TypeVar("BodyModel", bound=BaseModel)

__all__ = [
    "ErrorBody",
    "ErrorDetail",
    "FieldProblem",
    "document_errors",
    "error_response",
    "error_responses",
    "install_error_handlers",
]

log = logging.getLogger("paydesk.api")

#: What an operation that names none of its domain errors may answer besides the generic ones
#: (a route should name its own with :func:`error_responses`; this keeps the document honest
#: until it does).
UNDECLARED_DOMAIN_ERRORS = (403, 404, 409, 429, 502)

RETRY_UNAVAILABLE_SECONDS = 2


class FieldProblem(BaseModel):
    """One invalid input of a 400: which field, and what is wrong with it."""

    field: str
    problem: str


class ErrorDetail(BaseModel):
    """The error itself: a stable ``code`` to branch on and a ``message`` for people.

    Some errors add details (``fields`` on a 400, ``retry_after`` on a 429, ``refundable`` …).
    """

    model_config = ConfigDict(extra="allow")

    code: str
    message: str
    request_id: str | None
    fields: list[FieldProblem] | None = None


class ErrorBody(BaseModel):
    """The one error shape of the API.

    >>> ErrorBody.model_validate({"error": {"code": "x", "message": "y", "request_id": None}})
    ErrorBody(error=ErrorDetail(code='x', message='y', request_id=None, fields=None))
    """

    error: ErrorDetail


def validated_body(model: type[BodyModel], payload: Any) -> BodyModel:
    """``payload`` as ``model``; a ValidationError leaves as the API's usual 400 naming the body
    field, for routes that pick their body's shape after reading it (pay: user or merchant).
    """
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        ) from exc


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: the error statuses it may answer, in the error shape.

    >>> error_responses(404, 409)[409]["description"]
    'Conflict'
    """
    return {
        status: {"model": ErrorBody, "description": HTTPStatus(status).phrase}
        for status in statuses
    }


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
    if status in (429, 503) and "retry_after" in extra:
        headers["Retry-After"] = str(extra["retry_after"])
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _problem(error: dict[str, Any]) -> dict[str, str]:
    """One validation error as ``{"field", "problem"}``; a body that is not JSON names the body."""
    loc = tuple(error.get("loc", ()))
    if error.get("type") == "json_invalid":
        reason = (error.get("ctx") or {}).get("error", "not valid JSON")
        position = loc[1] if len(loc) > 1 else 0
        return {"field": "body", "problem": f"not valid JSON: {reason} at character {position}"}
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    field = ".".join(parts) or str(loc[0] if loc else "request")
    return {"field": field, "problem": error.get("msg", "invalid")}


def _unreadable_body(cause: BaseException) -> str:
    """Why a body could not be parsed at all (the JSON decoder's own errors are handled as
    validation errors).

    >>> _unreadable_body(RecursionError()), _unreadable_body(ValueError())
    ('not valid JSON: nested too deeply', 'not valid JSON')
    """
    if isinstance(cause, RecursionError):
        return "not valid JSON: nested too deeply"
    if isinstance(cause, UnicodeDecodeError):
        return f"not valid JSON: not UTF-8 at byte {cause.start}"
    return "not valid JSON"


def _body_not_understood(exc: RequestValidationError) -> bool:
    """A body was sent but, as a whole, is not an object (FastAPI hands over the bytes of a
    body in another media type): not one bad field, not a missing body."""
    return any(
        tuple(error.get("loc", ())) == ("body",) and error.get("type") != "missing"
        for error in exc.errors()
    )


def _is_json(content_type: str) -> bool:
    """``application/json`` or ``application/…+json``, as FastAPI parses bodies.

    >>> _is_json("application/json; charset=utf-8"), _is_json("text/plain")
    (True, False)
    """
    media_type = content_type.partition(";")[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def install_error_handlers(app: FastAPI) -> None:
    """Map every exception class to the error shape, and say so in the OpenAPI document."""

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> JSONResponse:
        extra = dict(exc.details)
        if isinstance(exc, RateLimited):
            extra.setdefault("retry_after", 1)
        return error_response(request, exc.status, exc.code, exc.message, **extra)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        content_type = request.headers.get("content-type", "")
        if content_type and not _is_json(content_type) and _body_not_understood(exc):
            return error_response(
                request,
                415,
                "unsupported_media_type",
                f"send the body as JSON with Content-Type: application/json, not {content_type!r}",
            )
        problems = [_problem(error) for error in exc.errors()]
        first = problems[0] if problems else {"field": "request", "problem": "invalid"}
        message = f"{first['field']}: {first['problem']}"
        return error_response(request, 400, "invalid_request", message, fields=problems)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.__cause__ is not None:
            # FastAPI's "There was an error parsing the body": say what was wrong with it.
            problem = _unreadable_body(exc.__cause__)
            return error_response(
                request,
                400,
                "invalid_request",
                f"body: {problem}",
                fields=[{"field": "body", "problem": problem}],
            )
        code = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(
            exc.status_code, "http_error"
        )
        return error_response(request, exc.status_code, code, str(exc.detail))

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.error(
            "database unavailable (request %s): %s",
            getattr(request.state, "request_id", "?"),
            exc,
            exc_info=exc,
        )
        return error_response(
            request,
            503,
            "database_unavailable",
            "paydesk could not reach its database; send the same request again in "
            f"{RETRY_UNAVAILABLE_SECONDS} s",
            retry_after=RETRY_UNAVAILABLE_SECONDS,
        )

    for cause in DATABASE_UNAVAILABLE:
        app.add_exception_handler(cause, unavailable)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error (request %s)", getattr(request.state, "request_id", "?"))
        return error_response(
            request, 500, "internal_error", "something went wrong on our side; it was logged"
        )

    document_errors(app)


# --- the OpenAPI document ------------------------------------------------------------------------


def document_errors(app: FastAPI) -> None:
    """Make ``app``'s OpenAPI document declare the errors the handlers above really send."""
    generate: Callable[[], dict[str, Any]] = app.openapi
    rewritten: list[dict[str, Any]] = []  # the document last rewritten (FastAPI caches it)

    def openapi() -> dict[str, Any]:
        document = generate()  # a new one only when routes were added since
        if not rewritten or rewritten[0] is not document:
            rewritten[:] = [_with_errors(document)]
        return document

    # FastAPI's documented way to extend the document: replace the app's ``openapi``.
    app.openapi = openapi  # type: ignore[method-assign]


def _error_content() -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"{REF_PREFIX}{ErrorBody.__name__}"}}}


def _with_errors(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` itself, rewritten in place."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in _error_schemas().items():
        schemas.setdefault(name, schema)
    for path, item in document.get("paths", {}).items():
        for operation in item.values():
            _document_operation(operation)
            if path != "/healthz":  # the one route that never reads the database
                operation["responses"].setdefault(
                    "503",
                    {
                        "description": "the database did not answer: send it again",
                        "content": _error_content(),
                    },
                )
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


def _error_schemas() -> dict[str, Any]:
    schema = ErrorBody.model_json_schema(ref_template=f"{REF_PREFIX}{{model}}")
    definitions: dict[str, Any] = schema.pop("$defs", {})
    return {**definitions, ErrorBody.__name__: schema}


def _document_operation(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses.pop("422", None)
    parameters = operation.get("parameters", [])
    has_body = "requestBody" in operation
    declared = any(code[0] in "45" for code in responses)
    statuses = {414, 431}  # RequestLimitsMiddleware, before any route
    if parameters or has_body:
        statuses.add(400)
    if any(p.get("in") == "header" and p.get("name") == "authorization" for p in parameters):
        statuses.add(401)
    if any(p.get("in") == "path" for p in parameters):
        statuses.add(404)
    if has_body:
        statuses.add(413)
    if "application/json" in operation.get("requestBody", {}).get("content", {}):
        statuses.add(415)
    if not declared and (parameters or has_body):
        statuses.update(UNDECLARED_DOMAIN_ERRORS)
    for status in sorted(statuses):
        responses.setdefault(
            str(status),
            {"description": HTTPStatus(status).phrase, "content": _error_content()},
        )
