"""Idempotency keys as Stripe documents them, kept in the ledger.

The first request with a key stores its status and body; the same key with the same
parameters answers that stored response again (marked replayed), with other parameters it is
refused (`idempotency_error`); keys are forgotten after 24 hours. The record is written in the
same transaction as the change it answers, so a crash can never leave a change without its
record (a retry would then repeat the change) or a record without its change. A request whose
execution fails (say, an unknown id) stores its error like a success; `keep_error` tells which
failures are answers and which (invalid parameters, a ledger that cannot be written) are not.

Meter event identifiers keep their own, permanent de-duplication (SPEC 2.3) underneath.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from billing_cli.api.context import Context
from billing_cli.errors import IdempotencyMismatch
from billing_cli.storage.port import IdempotencyRecord, LedgerStore

KEEP_SECONDS = 24 * 60 * 60

Rendered = tuple[int, str]  # HTTP status, response body


@dataclass(frozen=True)
class Outcome:
    status: int
    body: str
    replayed: bool


class _Undo(Exception):
    """Leaves the request's transaction so that what the failed request changed rolls back."""


def _replay(led: LedgerStore, key: str, fingerprint: str) -> Outcome | None:
    stored = led.get_idempotency_key(key)
    if stored is None:
        return None
    if stored.fingerprint != fingerprint:
        raise IdempotencyMismatch(
            "Keys for idempotent requests can only be used with the same parameters "
            f"they were first used with. Try using a key other than {key!r} if you "
            "meant to execute a different request."
        )
    return Outcome(stored.status, stored.body, replayed=True)


def run_once(
    ctx: Context,
    *,
    key: str,
    fingerprint: str,
    execute: Callable[[Context], Rendered],
    keep_error: Callable[[BaseException], Rendered | None],
) -> Outcome:
    """Run `execute` once per key: store its answer with the change, or replay the stored one.

    A failure that is an answer (`keep_error`) rolls the request's transaction back and is
    stored in a transaction of its own (it changed nothing to store it with). Not undone with
    a savepoint inside one transaction: a savepoint makes SQLite copy every page the request
    touches into a statement journal, a fifth of a 100-event stream request's time."""
    now = ctx.now_ts
    failed: Rendered | None = None
    with ctx.ledger(write=True) as led:
        try:
            with led.write():
                led.prune_idempotency_keys(before=now - KEEP_SECONDS)
                replayed = _replay(led, key, fingerprint)
                if replayed is not None:
                    return replayed
                try:
                    status, body = execute(ctx.bound(led))
                except Exception as exc:
                    failed = keep_error(exc)
                    if failed is None:
                        raise
                    raise _Undo from exc
                led.put_idempotency_key(key, IdempotencyRecord(fingerprint, status, body, now))
                return Outcome(status, body, replayed=False)
        except _Undo:
            pass
        assert failed is not None
        with led.write():
            replayed = _replay(led, key, fingerprint)  # another server process was quicker
            if replayed is not None:
                return replayed
            led.put_idempotency_key(key, IdempotencyRecord(fingerprint, *failed, now))
    return Outcome(*failed, replayed=False)
