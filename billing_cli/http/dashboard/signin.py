"""Who may look at the dashboard: sign-in by API key or one-time URL, sessions, slow-down.

A session is a random id kept in this process's memory with its expiry, handed to the browser
as a cookie signed with a per-process secret (HMAC-SHA256): a forged or altered cookie fails
the signature, an old one fails the expiry, and sign-out deletes the id server-side so a copied
cookie dies with it. A restarted server forgets every session, as it forgets its one-time URL:
both are printed anew at start. Failed sign-ins are counted per client address and each one
past the third waits longer (up to MAX_DELAY), which makes guessing a key slow without ever
locking out the owner, who holds the key or the URL.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Collection
from dataclasses import dataclass

COOKIE = "billing_dashboard"
SESSION_SECONDS = 8 * 3600  # a working day; sign in again after that
FREE_FAILURES = 3  # failures before the slow-down starts
FIRST_DELAY = 0.5  # seconds, doubled for each further failure
MAX_DELAY = 8.0
FAILURE_MEMORY = 15 * 60  # a client's failures are forgotten after this long without one


@dataclass
class _Failures:
    count: int
    last: float


class SignIn:
    """The dashboard's keys, one-time token, live sessions and failure counts (thread-safe)."""

    def __init__(self, api_keys: Collection[str], *, one_time_token: str | None = None) -> None:
        self._keys = tuple(k.encode() for k in api_keys)
        self._secret = secrets.token_bytes(32)
        self._one_time = one_time_token
        self._sessions: dict[str, int] = {}  # id -> expires (Unix seconds)
        self._failures: dict[str, _Failures] = {}
        self._lock = threading.Lock()

    # -- credentials ------------------------------------------------------------------------
    def key_matches(self, given: str) -> bool:
        """Compare with every key in constant time, so timing tells nothing about any key."""
        raw = given.encode()
        return any([hmac.compare_digest(raw, key) for key in self._keys])

    def use_one_time_token(self, given: str) -> bool:
        """True once for the token printed at start; it never works again after that."""
        with self._lock:
            token = self._one_time
            if token is None or not hmac.compare_digest(given.encode(), token.encode()):
                return False
            self._one_time = None
            return True

    # -- sessions ---------------------------------------------------------------------------
    def _sign(self, session_id: str, expires: int) -> str:
        message = f"{session_id}.{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def start_session(self, now: int) -> tuple[str, int]:
        """A new session: (cookie value, max-age in seconds)."""
        session_id = secrets.token_urlsafe(24)
        expires = now + SESSION_SECONDS
        with self._lock:
            for old in [s for s, exp in self._sessions.items() if exp <= now]:
                del self._sessions[old]
            self._sessions[session_id] = expires
        return f"{session_id}.{expires}.{self._sign(session_id, expires)}", SESSION_SECONDS

    def session_of(self, cookie: str | None, now: int) -> str | None:
        """The session id a valid, unexpired, not signed-out cookie names, else None."""
        if not cookie:
            return None
        parts = cookie.split(".")
        if len(parts) != 3 or not parts[1].isdigit():
            return None
        session_id, expires_text, signature = parts
        expires = int(expires_text)
        if not hmac.compare_digest(signature, self._sign(session_id, expires)):
            return None
        with self._lock:
            known = self._sessions.get(session_id)
        if known != expires or expires <= now:
            return None
        return session_id

    def end_session(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def form_token(self, session_id: str) -> str:
        """The sign-out form's anti-forgery token: only a page of this session can post it."""
        return hmac.new(self._secret, f"form:{session_id}".encode(), hashlib.sha256).hexdigest()

    # -- slow-down --------------------------------------------------------------------------
    def delay_for(self, client: str, clock: float) -> float:
        """Seconds to wait before answering this client's next sign-in attempt."""
        with self._lock:
            seen = self._failures.get(client)
            if seen is None or clock - seen.last > FAILURE_MEMORY:
                return 0.0
            extra = seen.count - FREE_FAILURES
        return 0.0 if extra < 0 else min(FIRST_DELAY * 2**extra, MAX_DELAY)

    def failed(self, client: str, clock: float) -> None:
        with self._lock:
            seen = self._failures.get(client)
            if seen is None or clock - seen.last > FAILURE_MEMORY:
                seen = self._failures[client] = _Failures(0, clock)
            seen.count += 1
            seen.last = clock

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)
