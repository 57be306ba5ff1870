"""Liveness and readiness: ``/healthz`` (the process answers), ``/readyz`` (the database too)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from paydesk.api.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, Any]:
    """The process is up."""
    return {"ok": True}


@router.get(
    "/readyz",
    responses={503: {"description": "the database cannot be reached"}},
)
async def readyz(services: ServicesDep) -> JSONResponse:
    """The process can reach its database."""
    try:
        async with services.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as exc:
        return JSONResponse({"ok": False, "database": type(exc).__name__}, status_code=503)
    return JSONResponse({"ok": True, "database": "reachable"})
