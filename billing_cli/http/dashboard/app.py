"""The dashboard as a Starlette app that `billing serve` mounts under `/dashboard`.

Same process, same ledger, same clock as the API: every request builds its `Context` through the
`context` callable the server hands over (a frozen `--now` or the system clock). Pages are
server-rendered Jinja2 with auto-escaping on for every template, so any stored string (a
customer named `<script>…`) is shown as text; the CSP then forbids every script outright, and
the stylesheet and nothing else comes from 'self'. Nothing is written to the ledger.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Collection
from functools import partial
from pathlib import Path
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from billing_cli.api.context import Context
from billing_cli.errors import BillingError, NotFound
from billing_cli.http.dashboard import filters, pages
from billing_cli.http.dashboard.signin import COOKIE, SignIn
from billing_cli.http.dashboard.usage import parse_usage_query

HERE = Path(__file__).resolve().parent
NAV = [("meters", "Meters"), ("customers", "Customers"), ("invoices", "Invoices"),
       ("late_events", "Late events")]  # fmt: skip
SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
     b"base-uri 'none'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]  # fmt: skip


def new_login_token() -> str:
    """The secret of the one-time sign-in URL `billing serve` prints at start."""
    return secrets.token_urlsafe(32)


def login_url(base_url: str, token: str) -> str:
    """`http://127.0.0.1:12111/dashboard/login?token=…` for a server at `base_url`."""
    return f"{base_url.rstrip('/')}/dashboard/login?token={token}"


class SecurityHeaders:
    """Adds the CSP and friends to every response of the dashboard, errors and files too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class Dashboard:
    """The state behind the routes: how to read the ledger, who may sign in, the templates."""

    def __init__(self, context: Callable[[], Context], signin: SignIn) -> None:
        self.context = context
        self.signin = signin
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,  # every template, whatever its name: stored text is data
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        filters.install(self.templates)

    # -- helpers ----------------------------------------------------------------------------
    def url(self, request: Request, name: str, **params: Any) -> str:
        """A path under the mount point (no host: links never depend on a Host header)."""
        path = request.app.router.url_path_for(name, **params)
        return request.scope.get("root_path", "") + str(path)

    def session(self, request: Request) -> str | None:
        return self.signin.session_of(request.cookies.get(COOKIE), int(time.time()))

    def render(
        self, request: Request, template: str, data: dict[str, Any], *, status: int = 200,
        ctx: Context | None = None, session: str | None = None, section: str | None = None,
    ) -> HTMLResponse:  # fmt: skip
        ctx = ctx or self.context()
        html = self.templates.get_template(template).render(
            url=partial(self.url, request),
            nav=NAV,
            section=section,
            signed_in=session is not None,
            form_token=self.signin.form_token(session) if session else "",
            now=ctx.now_ts,
            ledger_name=_ledger_name(ctx.db),
            **data,
        )
        return HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})

    def to_signin(self, request: Request) -> RedirectResponse:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        login = self.url(request, "login")
        return RedirectResponse(f"{login}?next={_quote(target)}", status_code=303)

    async def page(
        self,
        request: Request,
        template: str,
        section: str,
        build: Callable[..., dict[str, Any]],
        *args: Any,
    ) -> Response:
        """A signed-in page: read in a worker thread, render; a missing object is a 404 page."""
        session = self.session(request)
        if session is None:
            return self.to_signin(request)
        ctx = self.context()
        try:
            data = await run_in_threadpool(build, ctx, *args)
        except NotFound as exc:
            return self.error(request, 404, "Not found", exc, ctx, session)
        except BillingError as exc:
            return self.error(request, 400, "Cannot show this", exc, ctx, session)
        return self.render(request, template, data, ctx=ctx, session=session, section=section)

    def error(
        self, request: Request, status: int, heading: str, exc: BillingError,
        ctx: Context, session: str | None,
    ) -> HTMLResponse:  # fmt: skip
        data = {"heading": heading, "message": exc.message, "hint": exc.hint}
        return self.render(request, "error.html", data, status=status, ctx=ctx, session=session)


def _ledger_name(db: str | Path) -> str:
    """The ledger as the footer names it: a file's name, or a database URI without its user
    and password (a page must never show a credential)."""
    text = str(db)
    if "://" not in text:
        return Path(text).name
    from urllib.parse import urlsplit

    parts = urlsplit(text)
    return f"{parts.scheme}://{parts.hostname or ''}{parts.path}"


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="/")


def _safe_next(request: Request, target: str | None, home: str) -> str:
    """Only a path of this dashboard: never another site (`//evil`, `/\\evil`, `https:…`)."""
    root = request.scope.get("root_path", "")
    if (
        not target
        or not target.startswith(f"{root}/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(ch) < 32 for ch in target)
    ):
        return home
    return target


# -- routes ---------------------------------------------------------------------------------


def _routes(d: Dashboard) -> list[Route | Mount]:
    async def home(request: Request) -> Response:
        return RedirectResponse(d.url(request, "meters"), status_code=303)

    async def login(request: Request) -> Response:
        client = request.client.host if request.client else "?"
        home_path = d.url(request, "meters")
        if request.method == "GET" and "token" not in request.query_params:
            if d.session(request) is not None:
                return RedirectResponse(home_path, status_code=303)
            data = {"message": None, "next": request.query_params.get("next", "")}
            return d.render(request, "login.html", data)
        await asyncio.sleep(d.signin.delay_for(client, time.monotonic()))
        if request.method == "GET":
            ok = d.signin.use_one_time_token(request.query_params["token"])
            wanted = request.query_params.get("next")
            message = "That sign-in link is not valid: each link works once. Use an API key."
        else:
            form = await request.form()
            key, given_next = form.get("api_key"), form.get("next")
            ok = isinstance(key, str) and d.signin.key_matches(key)
            wanted = given_next if isinstance(given_next, str) else None
            message = "That API key is not valid."
        if not ok:
            d.signin.failed(client, time.monotonic())
            data = {"message": message, "next": wanted or ""}
            return d.render(request, "login.html", data, status=403)
        d.signin.succeeded(client)
        value, max_age = d.signin.start_session(int(time.time()))
        response = RedirectResponse(_safe_next(request, wanted, home_path), status_code=303)
        response.set_cookie(
            COOKIE, value, max_age=max_age, path=request.scope.get("root_path") or "/",
            httponly=True, samesite="strict", secure=request.url.scheme == "https",
        )  # fmt: skip
        return response

    async def logout(request: Request) -> Response:
        session = d.session(request)
        form = await request.form()
        if session is not None and form.get("form_token") == d.signin.form_token(session):
            d.signin.end_session(session)
        response = RedirectResponse(d.url(request, "login"), status_code=303)
        response.delete_cookie(COOKIE, path=request.scope.get("root_path") or "/")
        return response

    def page(
        template: str, section: str, build: Callable[..., dict[str, Any]], *names: str
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            args = [request.path_params[n] for n in names]
            return await d.page(request, template, section, build, *args)

        return endpoint

    async def meter(request: Request) -> Response:
        meter_id = request.path_params["meter_id"]
        params = dict(request.query_params)

        def build(ctx: Context) -> dict[str, Any]:
            try:
                query = parse_usage_query(params, ctx.now_ts)
            except BillingError as exc:  # a bad date: the picker again, with the reason
                form = {"start": params.get("start", ""), "end": params.get("end", "")}
                return {**pages.meter_page(ctx, meter_id, None), "message": exc.message,
                        "form": form}  # fmt: skip
            return {**pages.meter_page(ctx, meter_id, query), "message": None}

        return await d.page(request, "meter.html", "meters", build)

    async def invoices(request: Request) -> Response:
        status = request.query_params.get("status") or None
        return await d.page(request, "invoices.html", "invoices", pages.invoices_page, status)

    async def invoice(request: Request) -> Response:
        invoice_id = request.path_params["invoice_id"]

        def build(ctx: Context) -> dict[str, Any]:
            data = pages.invoice_page(ctx, invoice_id)
            data["pdf_url"] = d.url(request, "invoice_pdf", invoice_id=data["invoice"]["id"])
            return data

        return await d.page(request, "invoice.html", "invoices", build)

    async def invoice_pdf(request: Request) -> Response:
        session = d.session(request)
        if session is None:
            return d.to_signin(request)
        invoice_id, ctx = request.path_params["invoice_id"], d.context()
        try:
            name, body = await run_in_threadpool(pages.invoice_pdf, ctx, invoice_id)
        except NotFound as exc:
            return d.error(request, 404, "Not found", exc, ctx, session)
        return Response(body, media_type="application/pdf", headers={
            "content-disposition": f'attachment; filename="{name}"', "cache-control": "no-store",
        })  # fmt: skip

    return [
        Route("/", home, name="home"),
        Route("/login", login, methods=["GET", "POST"], name="login"),
        Route("/logout", logout, methods=["POST"], name="logout"),
        Route("/meters", page("meters.html", "meters", pages.meters_page), name="meters"),
        Route("/meters/{meter_id}", meter, name="meter"),
        Route(
            "/customers",
            page("customers.html", "customers", pages.customers_page),
            name="customers",
        ),  # fmt: skip
        Route(
            "/customers/{customer_id}",
            page("customer.html", "customers", pages.customer_page, "customer_id"),
            name="customer",
        ),  # fmt: skip
        Route("/invoices", invoices, name="invoices"),
        Route("/invoices/{invoice_id}", invoice, name="invoice"),
        Route("/invoices/{invoice_id}/pdf", invoice_pdf, name="invoice_pdf"),
        Route(
            "/late-events",
            page("late_events.html", "late_events", pages.late_events_page),
            name="late_events",
        ),  # fmt: skip
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]


def create_dashboard(
    *,
    context: Callable[[], Context],
    api_keys: Collection[str],
    one_time_token: str | None = None,
) -> Starlette:
    """The app to mount at `/dashboard`: `Mount("/dashboard", app=create_dashboard(...))`.

    `context` gives each request its Context (the server's ledger and clock); `api_keys` are
    the keys that sign in; `one_time_token` makes `login_url(…, token)` work once."""
    d = Dashboard(context, SignIn(api_keys, one_time_token=one_time_token))

    async def not_found(request: Request, exc: Exception) -> Response:
        session = d.session(request)
        if session is None:
            return d.to_signin(request)
        missing = NotFound(f"no page {request.url.path}", hint="use the links above")
        return d.error(request, 404, "Not found", missing, d.context(), session)

    app = Starlette(routes=_routes(d), exception_handlers={404: not_found})
    app.add_middleware(SecurityHeaders)
    return app
