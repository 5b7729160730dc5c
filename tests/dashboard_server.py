"""`python tests/dashboard_server.py DB NOW PORT KEY`: the dashboard alone, mounted under
/dashboard as `billing serve` mounts it, with a frozen clock; prints the one-time sign-in URL
on stderr first, as `billing serve` does."""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from billing_cli.api.context import Context
from billing_cli.clock import parse_time
from billing_cli.http.dashboard import create_dashboard, login_url, new_login_token


def main() -> None:
    db, now_text, port, key = sys.argv[1:5]
    now = parse_time(now_text)
    token = new_login_token()
    dashboard = create_dashboard(
        context=lambda: Context(Path(db), now), api_keys=[key], one_time_token=token
    )
    app = Starlette(routes=[Mount("/dashboard", app=dashboard)])
    sys.stderr.write(f"dashboard: {login_url(f'http://127.0.0.1:{port}', token)}\n")
    sys.stderr.flush()
    uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning")


if __name__ == "__main__":
    main()
