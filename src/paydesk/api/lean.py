"""A route class for endpoints that take only their path parameters and the raw request.

    router = APIRouter(route_class=LeanRoute)

    @router.post("/notify/{mchid}")
    async def notify(mchid: str, request: Request) -> Response: ...

FastAPI documents such a route (OpenAPI) like any other, but serving it skips what it does not
need: no dependency solving, no parameter validation models, no response model. The endpoint
is called as ``endpoint(**request.path_params, request=request)`` and must return a
``Response``. :class:`LeanRoute` refuses, when the route is declared, an endpoint asking for
anything else, so nothing is silently left unsolved.

Why: WeChat's notifications arrive in bursts and their handler is short; FastAPI's handler
machinery was a fifth of the Python calls per notification (docs/performance.md). FastAPI
documents ``APIRoute.get_route_handler`` as the place to customise a route class.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

__all__ = ["LeanRoute"]

_Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class LeanRoute(APIRoute):
    """An :class:`~fastapi.routing.APIRoute` served without dependency solving.

    >>> from fastapi import APIRouter
    >>> router = APIRouter(route_class=LeanRoute)
    >>> @router.post("/n/{mchid}")
    ... async def notify(mchid: str, request: Request) -> Response:
    ...     return Response(status_code=204)
    >>> @router.post("/m/{mchid}")  # doctest: +ELLIPSIS
    ... async def wants_more(mchid: str, request: Request, page: int = 1) -> Response:
    ...     return Response(status_code=204)
    Traceback (most recent call last):
    ...
    TypeError: LeanRoute /m/{mchid}: wants_more may take only ['mchid'] and request, not ['page']
    """

    def get_route_handler(self) -> _Handler:
        """The endpoint, called with the path parameters and the request."""
        endpoint = self.endpoint
        path_names = sorted(self.param_convertors)
        asked = [name for name in inspect.signature(endpoint).parameters if name != "request"]
        extra = sorted(set(asked) - set(path_names))
        if not inspect.iscoroutinefunction(endpoint):
            raise TypeError(f"LeanRoute {self.path}: {endpoint.__name__} must be async")
        if extra:
            raise TypeError(
                f"LeanRoute {self.path}: {endpoint.__name__} may take only {path_names}"
                f" and request, not {extra}"
            )

        async def handle(request: Request) -> Response:
            response: Response = await endpoint(**request.path_params, request=request)
            return response

        return handle
