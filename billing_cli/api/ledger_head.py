"""The ledger's head for `ledger check --print-head` / `--expect-head HEAD` (beyond Stripe).

A hash chain inside the file cannot show rows cut off its end, a row appended with a valid hash
(and the roll-ups rebuilt to match), or a history rewritten with every hash recomputed: the
file stays consistent with itself. A head written down outside the file can. `--print-head`
prints one token for all the chains (`domain.chain.head_token`); `--expect-head` compares the
ledger with a token kept from earlier: every chain must still hold the recorded row at the
recorded seq with the recorded hash, and hold nothing after it. So record the head after each
run of your own (an import, `invoice run`), and expect it before the next: anything else that
wrote to the ledger in between is named.
"""

from __future__ import annotations

from billing_cli.api.chain_check import Problem
from billing_cli.domain import chain
from billing_cli.errors import InvalidInput
from billing_cli.storage.port import CHAIN_TABLES, LedgerStore


def parse_expected(text: str) -> tuple[list[int], str]:
    """A head given to `--expect-head`; a malformed one is invalid input (exit 4)."""
    parsed = chain.parse_head(text)
    if parsed is None:
        raise InvalidInput(
            f"--expect-head {text[:80]!r} is not a ledger head",
            hint=f"give the line `billing ledger check --print-head` printed ({chain.HEAD_FORMAT})",
        )
    seqs, digest = parsed
    if len(seqs) > len(CHAIN_TABLES):
        raise InvalidInput(
            f"--expect-head {text[:80]!r} names {len(seqs)} chains; this ledger has"
            f" {len(CHAIN_TABLES)}",
            hint="was it printed for another program's ledger?",
        )
    return seqs, digest


def current_head(led: LedgerStore) -> str:
    heads = led.chain_heads()
    rows = [(t, int(str(heads[t]["seq"])), _text(heads[t]["hash"])) for t in CHAIN_TABLES]
    return chain.head_token(rows)


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def head_problems(led: LedgerStore, expected: tuple[list[int], str]) -> list[Problem]:
    """How the ledger differs from the head recorded earlier (nothing when it is that head)."""
    seqs, digest = expected
    # A chain the head does not name (added by a later upgrade) was empty when it was printed.
    recorded = dict(zip(CHAIN_TABLES, seqs + [0] * (len(CHAIN_TABLES) - len(seqs)), strict=True))
    heads = led.chain_heads()
    now = {t: int(str(heads[t]["seq"])) for t in CHAIN_TABLES}
    shorter = [t for t in CHAIN_TABLES if now[t] < recorded[t]]
    if shorter:
        return [
            Problem(
                "ledger",
                f"{t}: the recorded head has seq {recorded[t]}, the ledger ends at {now[t]}:"
                " rows were cut off the end of the chain (deleted outside billing)",
            )
            for t in shorter
        ]
    rows = [(t, recorded[t], led.chain_hash_at(t, recorded[t])) for t in CHAIN_TABLES[: len(seqs)]]
    if chain.head_digest(rows) != digest:
        return [
            Problem(
                "ledger",
                "the ledger's chains no longer lead to the recorded head: rows up to it were"
                " rewritten and their hashes recomputed (edited outside billing)",
            )
        ]
    grown = [(t, recorded[t], now[t]) for t in CHAIN_TABLES if now[t] > recorded[t]]
    return [
        Problem(
            "ledger",
            f"{t}: {top - seq} row(s) added since the recorded head (seq {seq + 1}-{top}); if"
            " billing wrote them on your behalf, record the new head with `billing ledger"
            " check --print-head`",
        )
        for t, seq, top in grown
    ]
