"""Who may call the server: secret API keys, and the short-lived meter event session tokens.

Stripe authenticates `Authorization: Bearer sk_…` (or HTTP Basic with the key as the user
name) on every endpoint except the v2 meter event stream, which takes the token of a meter
event session instead (valid 15 minutes): a process that only sends usage never holds the
secret key. Tokens live in this process's memory, as
Stripe's are short-lived; a restarted server asks clients for a new session, which the SDK
reports as `TemporarySessionExpiredError`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import threading
from dataclasses import dataclass

from billing_cli.errors import BillingError

SESSION_SECONDS = 15 * 60
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def random_text(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def generate_api_key() -> str:
    """A fresh `sk_test_…` key for a server started without one."""
    return "sk_test_" + random_text(32)


class Unauthorized(BillingError):
    """401: no key, a wrong key, or an expired session token (Stripe's statuses and types)."""

    def __init__(self, message: str, *, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.kind = kind


def bearer(header: str | None) -> str | None:
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def api_key_of(header: str | None) -> str | None:
    """The secret key of a request: `Bearer KEY`, or HTTP Basic with the key as the user name
    and no password, which is how Stripe's curl examples send it (`curl -u sk_test_…:`)."""
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return bearer(header)
    try:
        user, _, _ = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user or None


def _masked(key: str) -> str:
    return f"{key[:8]}{'*' * 4}{key[-4:]}" if len(key) > 12 else "****"


class ApiKeys:
    def __init__(self, keys: frozenset[str]) -> None:
        self._keys = tuple(k.encode() for k in keys)

    def check(self, header: str | None) -> None:
        token = api_key_of(header)
        if token is None:
            raise Unauthorized(
                "You did not provide an API key. Provide it in the Authorization header, "
                "e.g. 'Authorization: Bearer sk_test_…' (the key `billing serve` printed)."
            )
        given = token.encode()
        # compare with every key, in constant time, so timing tells nothing about any key
        if not any([hmac.compare_digest(given, key) for key in self._keys]):
            raise Unauthorized(f"Invalid API Key provided: {_masked(token)}")


@dataclass(frozen=True)
class Session:
    id: str
    token: str
    created: int
    expires_at: int


class Sessions:
    """Meter event session tokens of this server process (thread-safe)."""

    def __init__(self) -> None:
        self._by_token: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, now: int) -> Session:
        session = Session(
            id="mes_" + random_text(24),
            token="mest_" + random_text(40),
            created=now,
            expires_at=now + SESSION_SECONDS,
        )
        with self._lock:
            for token in [t for t, s in self._by_token.items() if s.expires_at <= now]:
                del self._by_token[token]
            self._by_token[session.token] = session
        return session

    def check(self, header: str | None, now: int) -> Session:
        token = bearer(header)
        if token is None:
            raise Unauthorized(
                "The meter event stream takes the authentication_token of a meter event "
                "session (POST /v2/billing/meter_event_session) as its Bearer token."
            )
        session = self._by_token.get(token)
        if session is None or session.expires_at <= now:
            raise Unauthorized(
                "The meter event session has expired or is unknown to this server; "
                "create a new one with POST /v2/billing/meter_event_session.",
                kind="temporary_session_expired",
            )
        return session
