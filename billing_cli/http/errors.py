"""Exceptions → Stripe's error responses: the HTTP face's one mapping (DESIGN: one per face).

The status, `type` and `code` come from `present.stripe_errors` (the table the CLI's `--json`
errors use too). What is added here is HTTP's wording: the api layer names a bad value by its
CLI option (`--display-name`), so the option is renamed to the endpoint's Stripe parameter
(`display_name`, `default_aggregation[formula]`) in `param` and in the message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from billing_cli.errors import BillingError, NotFound
from billing_cli.http.auth import Unauthorized
from billing_cli.present.stripe_errors import classify, error_envelope

_FLAG = re.compile(r"(?<![\w'\"-])--([a-z][a-z0-9-]*)")
_NO_SUCH = re.compile(r"no ([a-z][a-z ]*?) ('[^']*'|\"[^\"]*\")")  # the api's "no customer 'x'"


def _param_name(flag: str, aliases: Mapping[str, str]) -> str:
    return aliases.get(flag, flag.replace("-", "_"))


def _public_hint(hint: str | None) -> str:
    """Hints that read as CLI advice (a command to run, an option to add) stay on the CLI."""
    if not hint or "`" in hint or "--" in hint or "billing " in hint:
        return ""
    return f" ({hint})"


def _missing_param(message: str, sent: Mapping[str, str]) -> str | None:
    """Which parameter named the object that is not there, as Stripe's `param` says (`id` for
    the path's id, `customer`, `items[0][price]`): the one whose value the message quotes,
    the last quoted if several are (`… event_name 'x' and identifier 'y'`)."""
    found = [(message.rfind(repr(v)), name) for name, v in sent.items() if repr(v) in message]
    return max(found)[1] if found else None


def error_response(
    exc: BaseException, aliases: Mapping[str, str], sent: Mapping[str, str] | None = None
) -> tuple[int, dict]:
    """(status, body) for any exception raised while serving a request; `sent` holds the
    request's parameters by their bracketed names (and the path's `id`)."""
    if isinstance(exc, Unauthorized):
        return 401, {
            "error": {"type": exc.kind, "code": None, "message": exc.message, "param": None}
        }
    status, _, _ = classify(exc)
    if not isinstance(exc, BillingError):
        return status, error_envelope(exc)
    first = _FLAG.search(exc.message)
    param = exc.param or (_param_name(first[1], aliases) if first else None)
    message = _FLAG.sub(lambda m: _param_name(m[1], aliases), exc.message)
    if isinstance(exc, NotFound):
        if param is None and sent:
            param = _missing_param(exc.message, sent)
        if missing := _NO_SUCH.fullmatch(message):  # Stripe's words: "No such customer: 'x'"
            message = f"No such {missing[1]}: {missing[2]}"
    return status, error_envelope(exc, message=message + _public_hint(exc.hint), param=param)
