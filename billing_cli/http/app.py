"""The Starlette application: Stripe's routes, a Request-Id on every answer, an access log.

`create_app` is also where other faces of the server attach (the dashboard mounts its pages
with `extra_routes`); each of Stripe's routes authenticates itself (`endpoint.Spec`), so pages
mounted beside them choose their own access rules.
"""

from __future__ import annotations

import secrets
import sys
import time
from collections.abc import Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from billing_cli.http import (
    catalog_routes,
    credit_routes,
    event_routes,
    invoice_routes,
    meter_routes,
    subscription_routes,
)
from billing_cli.http.endpoint import Server, Spec, endpoint
from billing_cli.present.json_text import dumps

ROUTES: tuple[tuple[str, str, Spec], ...] = (
    *meter_routes.ROUTES,
    *event_routes.ROUTES,
    *catalog_routes.ROUTES,
    *subscription_routes.ROUTES,
    *invoice_routes.ROUTES,
    *credit_routes.ROUTES,
)


class RequestLog:
    """Pure ASGI middleware: a `Request-Id` header on every response (routed or not) and one
    access-log line per request on stderr (unless quiet)."""

    def __init__(self, app: Any, *, quiet: bool) -> None:
        self.app = app
        self.quiet = quiet

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = "req_" + secrets.token_hex(10)
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if not self.quiet:
                client = scope.get("client") or ("-", 0)
                elapsed = (time.perf_counter() - started) * 1000
                sys.stderr.write(
                    f"{client[0]} {scope['method']} {scope['path']} {status} "
                    f"{elapsed:.1f}ms {request_id}\n"
                )


async def _unrouted(request: Request, exc: Exception) -> Response:
    """Stripe answers an unknown path or method with 404 and its error envelope."""
    assert isinstance(exc, HTTPException)
    if exc.status_code not in (404, 405):
        message = exc.detail
    else:
        message = f"Unrecognized request URL ({request.method}: {request.url.path})."
    status = 404 if exc.status_code == 405 else exc.status_code
    body = {"error": {"type": "invalid_request_error", "code": None, "message": message,
                      "param": None}}  # fmt: skip
    return Response(dumps(body), status, media_type="application/json")


def create_app(
    server: Server, *, quiet: bool = False, extra_routes: Sequence[BaseRoute] = ()
) -> Any:
    routes: list[BaseRoute] = [
        Route(path, endpoint(spec), methods=[method]) for method, path, spec in ROUTES
    ]
    app = Starlette(
        routes=[*routes, *extra_routes],
        exception_handlers={HTTPException: _unrouted},
    )
    app.state.billing = server
    return RequestLog(app, quiet=quiet)
