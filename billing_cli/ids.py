"""Object ids: Stripe-style `prefix + 24 base62 chars`, or a readable id a script chose (SPEC 1, 5).

The prefix makes an id self-describing, so a `cus_` pasted where a `price_` belongs is caught by
its shape before any lookup, and ids stay safe in shells, CSV and file names.
"""

from __future__ import annotations

import re
import secrets
import string

from billing_cli.errors import InvalidInput

PREFIXES = {
    "billing.meter": "mtr_",
    "product": "prod_",
    "price": "price_",
    "customer": "cus_",
    "subscription": "sub_",
    "subscription_item": "si_",
    "invoice": "in_",
    "line_item": "il_",
    "billing.credit_grant": "credgr_",
    "billing.credit_balance_transaction": "cbtxn_",
}

ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase
RANDOM_LENGTH = 24
MAX_ID_LENGTH = 64

_EXAMPLES = {
    "mtr_": "mtr_tokens",
    "prod_": "prod_api",
    "price_": "price_tokens_usd",
    "cus_": "cus_acme",
    "sub_": "sub_acme_api",
    "si_": "si_acme_tokens",
    "in_": "in_acme_2026_11",
    "il_": "il_acme_tokens",
    "credgr_": "credgr_welcome",
    "cg_": "cg_welcome",
}
_ID_CHARS = re.compile(r"[A-Za-z0-9_]+", re.ASCII)


def new_id(prefix: str) -> str:
    """24 base62 chars from `secrets` (~143 bits): collisions are not a practical concern."""
    return prefix + "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))


def validate_id(value: str, prefix: str) -> str:
    """Check a user-chosen `--id` so scripts get readable ids without breaking the id contract.

    Returns the value unchanged (no case folding or trimming: an id is compared byte for byte).
    Uniqueness is the store's job, not this function's.
    """
    example = _EXAMPLES.get(prefix, f"{prefix}example")
    hint = (
        f"an id must start with {prefix!r}, continue with letters, digits or '_', "
        f"and be at most {MAX_ID_LENGTH} characters, e.g. {example}"
    )
    if not value.startswith(prefix):
        problem = f"does not start with {prefix!r}"
    elif len(value) == len(prefix):
        problem = f"has nothing after the prefix {prefix!r}"
    elif len(value) > MAX_ID_LENGTH:
        problem = f"is {len(value)} characters long (at most {MAX_ID_LENGTH})"
    elif _ID_CHARS.fullmatch(value) is None:
        problem = "may contain only letters A-Z a-z, digits 0-9 and '_'"
    else:
        return value
    raise InvalidInput(f"id {value!r} {problem}", hint=hint)
