"""The read-only dashboard that `billing serve` mounts under `/dashboard` (issue 18).

Server-rendered pages (Jinja2 templates and a stylesheet shipped in this package, charts drawn
as SVG on the server; no script, no build step, nothing fetched from the internet) over the same
use cases as the CLI. `app.create_dashboard` builds the Starlette app; `app.login_url` is the
one-time sign-in URL the server prints at start.
"""

from billing_cli.http.dashboard.app import create_dashboard, login_url, new_login_token

__all__ = ["create_dashboard", "login_url", "new_login_token"]
