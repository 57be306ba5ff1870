"""Every dependency of every route is ``async``: FastAPI runs a plain ``def`` dependency in its
thread pool, a thread hop (and a thread-pool slot) per request for what is usually a lookup."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from fastapi.routing import APIRoute

from paydesk.api.app import ROUTERS


def dependencies(dependant: Any) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub
        yield from dependencies(sub)


def test_no_route_depends_on_a_plain_function() -> None:
    routes = [route for router in ROUTERS for route in router.routes]
    assert len(routes) > 20
    assert all(isinstance(route, APIRoute) for route in routes)
    synchronous = sorted(
        f"{route.path}: {dependency.call.__qualname__}"
        for route in routes
        for dependency in dependencies(route.dependant)
        if dependency.call is not None
        and not inspect.iscoroutinefunction(dependency.call)
        and not inspect.isasyncgenfunction(dependency.call)
    )
    assert synchronous == []
