"""Running the server: bind, announce, serve with uvicorn, leave cleanly on SIGTERM/SIGINT.

Why uvicorn and Starlette: a maintained ASGI server and toolkit handle HTTP/1.1 framing,
keep-alive, slow clients and graceful shutdown, which hand-written parsing would get wrong in
ways only load reveals; Starlette adds routing and nothing we do not use. The socket is bound
here, before uvicorn starts, so `--port 0` can name the port it got (tests use that) and the
announcement on stderr is only printed once clients can connect.
"""

from __future__ import annotations

import signal
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from billing_cli.http.auth import ApiKeys, generate_api_key
from billing_cli.http.endpoint import Server

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class ServeOptions:
    db: str | Path
    host: str
    port: int
    api_keys: tuple[str, ...]
    frozen_now: datetime | None
    quiet: bool


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, named as TCP (`IPPROTO_TCP`) and without Nagle's delay.

    asyncio turns Nagle off (TCP_NODELAY) only on connections whose socket says it is TCP,
    and a socket made with protocol 0 does not: uvicorn writes a response's headers and body
    separately, so on a kept-alive connection the body then waited for the client's delayed
    ACK, 40 ms on Linux, the most of every request after a connection's first."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # accepted sockets inherit it
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        from billing_cli.errors import InvalidInput

        raise InvalidInput(
            f"cannot listen on {host}:{port}: {exc.strerror}",
            hint="choose another --port (0 picks a free one) or stop the other server",
        ) from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _ignore(signum: int, frame: Any) -> None:
    """uvicorn shuts down gracefully on SIGTERM/SIGINT and then re-raises the signal to the
    handler it found; finding this one, the process ends with exit 0 as a finished server."""


def serve(options: ServeOptions, extra_routes: Sequence[Any] = ()) -> int:
    import uvicorn
    from starlette.routing import Mount

    from billing_cli.api.context import Context
    from billing_cli.http.app import create_app
    from billing_cli.http.dashboard import create_dashboard, login_url, new_login_token

    keys = options.api_keys
    if not keys:
        keys = (generate_api_key(),)
        sys.stderr.write(f"billing serve: no --api-key given; use this one: {keys[0]}\n")
    server = Server(options.db, ApiKeys(frozenset(keys)), frozen_now=options.frozen_now)
    token = new_login_token()
    dashboard = create_dashboard(
        context=lambda: Context(server.db, server.now()), api_keys=keys, one_time_token=token
    )
    routes = [*extra_routes, Mount("/dashboard", app=dashboard)]
    app = create_app(server, quiet=options.quiet, extra_routes=routes)
    sock = _bind(options.host, options.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    if options.host not in LOOPBACK:
        sys.stderr.write(
            f"billing serve: warning: listening on {options.host}, not loopback: anyone who can "
            "reach this port and holds a key can change the ledger\n"
        )
    clock = ""
    if options.frozen_now is not None:
        clock = f", clock frozen at {options.frozen_now:%Y-%m-%dT%H:%M:%SZ}"
    base = f"http://{shown}:{port}"
    sys.stderr.write(  # the dashboard first: once "listening" is read, both lines are there
        f"billing serve: dashboard at {base}/dashboard/ (API key), or sign in once with "
        f"{login_url(base, token)}\n"
        f"billing serve: listening on {base} (ledger {options.db}{clock})\n"
    )
    sys.stderr.flush()
    config = uvicorn.Config(
        app,
        log_config=None,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=30,
        server_header=False,
        date_header=True,
    )
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _ignore)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        server.close()
    sys.stderr.write("billing serve: stopped\n")
    return 0
