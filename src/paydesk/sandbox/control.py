"""Control endpoints that belong to the whole sandbox: credentials, clock, reset.

GET  /_sandbox/credentials
POST /_sandbox/clock   {"speed"?: float, "advance_seconds"?: float}
POST /_sandbox/reset
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from paydesk.sandbox.clock import SandboxClock
from paydesk.sandbox.http import error_body, read_json

if TYPE_CHECKING:
    from paydesk.sandbox import Sandbox


def clock_view(clock: SandboxClock) -> dict[str, Any]:
    """The clock as JSON."""
    return {"now": clock.now().isoformat(), "wall": clock.wall().isoformat(), "speed": clock.speed}


def routes(sandbox: Sandbox) -> list[BaseRoute]:
    """The control routes bound to ``sandbox``."""

    async def credentials(request: Request) -> JSONResponse:
        return JSONResponse(sandbox.credentials.public_view())

    async def clock(request: Request) -> JSONResponse:
        if request.method == "GET":
            return JSONResponse(clock_view(sandbox.clock))
        data, problem = await read_json(request)
        if data is None:
            return JSONResponse(error_body("PARAM_ERROR", problem or ""), status_code=400)
        speed, advance = data.get("speed"), data.get("advance_seconds")
        for name, value in (("speed", speed), ("advance_seconds", advance)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float) or value < 0
            ):
                return JSONResponse(
                    error_body("PARAM_ERROR", f"{name} must be a non-negative number"),
                    status_code=400,
                )
        if speed is not None:
            if speed == 0:
                return JSONResponse(error_body("PARAM_ERROR", "speed must be > 0"), 400)
            sandbox.clock.set_speed(float(speed))
        if advance:
            sandbox.clock.advance(float(advance))
            await sandbox.pay.run_due()
        return JSONResponse(clock_view(sandbox.clock))

    async def reset(request: Request) -> JSONResponse:
        sandbox.reset()
        return JSONResponse({"reset": True, "clock": clock_view(sandbox.clock)})

    return [
        Route("/_sandbox/credentials", credentials, methods=["GET"]),
        Route("/_sandbox/clock", clock, methods=["GET", "POST"]),
        Route("/_sandbox/reset", reset, methods=["POST"]),
    ]
