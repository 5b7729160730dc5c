"""One request, start to end: authenticate, parse, validate, run the use case, answer in JSON.

An endpoint is written as a handler in two phases. The first reads and checks the parameters
(`Call.params`) and returns an action; unknown parameters are refused right after it. Only then
does the action run, in a worker thread (SQLite blocks), with the request's `Context`: for a
POST that carries an `Idempotency-Key`, inside `api.idempotency.run_once`, which stores the
answer in the ledger in the same transaction as the change it answers. A parameter that fails
the first phase is therefore never stored, as Stripe documents.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from billing_cli.api import Context
from billing_cli.api.idempotency import Outcome, run_once
from billing_cli.api.ledger import SharedWriter
from billing_cli.clock import to_unix
from billing_cli.errors import BillingError, InvalidInput, LedgerError
from billing_cli.http.auth import ApiKeys, Sessions
from billing_cli.http.errors import error_response
from billing_cli.http.expand import Expansion, read_expansion
from billing_cli.http.forms import Params, flatten, param_error, parse_form
from billing_cli.present.json_text import dumps

MAX_BODY = 4 * 1024 * 1024  # 100 stream events of generous payloads fit many times over
MAX_KEY = 255

Reply = tuple[int, Any]  # HTTP status and the JSON data to send
Action = Callable[[Context], Reply]


@dataclass(frozen=True)
class Call:
    """What a handler sees: the parameters, the path (ids in it, the list's own URL), the
    server's shared state (meter event sessions) and the checked `expand[]`."""

    params: Params
    path_params: Mapping[str, str]
    path: str
    server: Server
    expand: Expansion

    def path_param(self, name: str) -> str:
        return self.path_params[name]


Handler = Callable[[Call], Action]


@dataclass(frozen=True)
class Spec:
    handler: Handler
    json_body: bool = False  # v2: a JSON body; v1: form-encoded (query string for GET/DELETE)
    session_auth: bool = False  # the v2 meter event stream takes a session token
    aliases: Mapping[str, str] = field(default_factory=dict)  # CLI option → Stripe parameter
    kind: str | None = None  # the object answered (`expand.SCHEMA`); None: nothing expands
    listed: bool = False  # answers a list of `kind` (`expand[]=data.customer`)


@dataclass
class Server:
    """The state one server process shares between requests."""

    db: str | Path  # the --db value: an SQLite path or a postgresql:// URI
    keys: ApiKeys
    frozen_now: datetime | None = None
    sessions: Sessions = field(default_factory=Sessions)
    # Writers of this process queue here rather than in SQLite's busy handler (which sleeps
    # in growing steps); other processes still meet them at SQLite's lock.
    write_lock: threading.Lock = field(default_factory=threading.Lock)
    # What those writers write through (on SQLite one connection whose cache outlives a request).
    writer: SharedWriter = field(init=False)

    def __post_init__(self) -> None:
        self.writer = SharedWriter(self.db)

    def close(self) -> None:
        """The server stops: the writer's connection is closed (with the write lock, so after
        the last write)."""
        with self.write_lock:
            self.writer.close()

    def now(self) -> datetime:
        return self.frozen_now or datetime.now(UTC).replace(microsecond=0)


def _render(reply: Reply) -> tuple[int, str]:
    status, data = reply
    return status, dumps(data)


def _storable(exc: BaseException) -> bool:
    """Stripe keeps the answer once the endpoint ran: not for invalid parameters (400), and
    not when the ledger itself failed (locked, read-only), which changed nothing."""
    if isinstance(exc, BillingError):
        status = error_response(exc, {})[0]
        return status in (404, 409)
    return True


async def _params(request: Request, json_body: bool) -> dict[str, Any]:
    body = b""
    if request.method in ("POST", "PUT", "PATCH"):
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_BODY:
            raise param_error("body", f"the request body is larger than {MAX_BODY} bytes")
        chunks = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                raise param_error("body", f"the request body is larger than {MAX_BODY} bytes")
            chunks.append(chunk)
        body = b"".join(chunks)
    if json_body:
        return _json(body)
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "application/json" and body.strip():
        # parse_form would read the whole JSON text as one unknown parameter's name.
        raise param_error(
            "body",
            "v1 endpoints take form-encoded parameters (Content-Type: application/x-www-form-"
            "urlencoded, e.g. name=Max&metadata[plan]=pro), as Stripe's do; JSON bodies are for"
            " the v2 endpoints",
        )
    return parse_form(request.url.query, body)


def _no_constants(name: str) -> Any:
    raise param_error("body", f"{name} is not a JSON number Stripe accepts")


def _json(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        data = json.loads(body, parse_float=Decimal, parse_constant=_no_constants)
    except (ValueError, RecursionError) as exc:
        raise param_error("body", f"the request body is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise param_error("body", "the request body must be a JSON object")
    if b"\\u" in body:  # JSON may escape a lone surrogate, which is not text: refuse it
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise param_error("body", "the request body holds a lone surrogate escape") from None
    return data


def _fingerprint(request: Request, tree: dict[str, Any]) -> str:
    canonical = json.dumps(tree, sort_keys=True, separators=(",", ":"), default=str)
    text = f"{request.method} {request.url.path}\n{canonical}"
    return hashlib.sha256(text.encode()).hexdigest()


def _idempotency_key(request: Request) -> str | None:
    if request.method != "POST":
        return None  # Stripe: keys have no effect on GET and DELETE
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not key or len(key) > MAX_KEY:
        raise InvalidInput(
            f"Idempotency-Key is {len(key)} characters long; keys hold 1 to {MAX_KEY} characters"
        )
    return key


def _execute(
    server: Server,
    spec: Spec,
    action: Action,
    key: str | None,
    fingerprint: str,
    write: bool,
    sent: Callable[[], dict[str, str]],
) -> Outcome:
    """In a worker thread: the use case, with the idempotency record when there is a key."""
    ctx = Context(db=server.db, now=server.now())
    if not write:
        status, text = _render(action(ctx))
        return Outcome(status, text, replayed=False)

    def keep(exc: BaseException) -> tuple[int, str] | None:
        if not _storable(exc):
            return None
        _log_failure(exc)
        return _render(error_response(exc, spec.aliases, sent()))

    with server.write_lock, server.writer.bound(ctx) as held:
        if key is None:
            status, text = _render(action(held))
            return Outcome(status, text, replayed=False)
        return run_once(
            held,
            key=key,
            fingerprint=fingerprint,
            execute=lambda bound: _render(action(bound)),
            keep_error=keep,
        )


def _expanding(action: Action, expansion: Expansion) -> Action:
    """The action, then its answer's ids on `expand[]` paths replaced by their objects (read
    in the same transaction, so the objects are as the change left them)."""
    if not expansion.paths:
        return action

    def expanded(ctx: Context) -> Reply:
        status, data = action(ctx)
        return status, expansion.apply(ctx, data)

    return expanded


def _log_failure(exc: BaseException) -> None:
    """The operator sees bugs and ledger failures on stderr (the client sees the envelope);
    the traceback with BILLING_DEBUG=1, as on the CLI."""
    if isinstance(exc, BillingError) and not isinstance(exc, LedgerError):
        return
    line = " ".join(f"{type(exc).__name__}: {exc}".split())
    sys.stderr.write(f"error: {line}\n")
    if os.environ.get("BILLING_DEBUG") == "1":
        traceback.print_exception(exc)


def endpoint(spec: Spec) -> Callable[[Request], Any]:
    """The Starlette endpoint for `spec`."""

    async def serve(request: Request) -> Response:
        server: Server = request.app.state.billing
        headers: dict[str, str] = {}
        tree: dict[str, Any] = {}
        try:
            if spec.session_auth:
                server.sessions.check(request.headers.get("authorization"), to_unix(server.now()))
            else:
                server.keys.check(request.headers.get("authorization"))
            key = _idempotency_key(request)
            tree = await _params(request, spec.json_body)
            params = Params(tree)
            expansion = read_expansion(params, spec.kind, listed=spec.listed)
            call = Call(params, request.path_params, request.url.path, server, expansion)
            action = _expanding(spec.handler(call), expansion)
            call.params.done()
            fingerprint = _fingerprint(request, tree) if key is not None else ""
            write = request.method != "GET"

            def sent() -> dict[str, str]:  # for an error's `param` only: flattened on demand
                return {**flatten(tree), **request.path_params}

            outcome = await run_in_threadpool(
                _execute, server, spec, action, key, fingerprint, write, sent
            )
            status, text = outcome.status, outcome.body
            if outcome.replayed:
                headers["Idempotent-Replayed"] = "true"
        except Exception as exc:  # noqa: BLE001 - the boundary: every failure is an envelope
            _log_failure(exc)
            params_sent = {**flatten(tree), **request.path_params}
            status, data = error_response(exc, spec.aliases, params_sent)
            text = dumps(data)
        if status == 409:
            headers["Stripe-Should-Retry"] = "false"  # a conflict with state: retrying is futile
        body = text.encode("utf-8", "backslashreplace")  # (a JSON escape, should one slip in)
        return Response(body, status, headers=headers, media_type="application/json")

    return serve
