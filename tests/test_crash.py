"""SIGKILL in the middle of `invoice run`, alone and beside an `event import` (SPEC 2.5, 6, the
"Trust" issue): after a re-run, `ledger check` passes and the ledger equals one clean run (same
invoices and amounts, gapless numbers, the same invoice chain, no event lost or doubled).

The run closes two months of 300 subscriptions (700 invoices with the creation ones) in one
transaction. Kills land either a set time after a process is first seen holding the write lock
(inside a transaction, whatever the machine's speed) or at a fraction of the clean run's own
wall time, measured on this machine. (Imports killed alone, at several batch boundaries, are
tests/test_import_kill.py.)
"""

from __future__ import annotations

import shutil
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from billing_cli.api import Context
from billing_cli.api import invoices as invoices_api
from billing_cli.api.event_import import import_events
from billing_cli.api.ledger_check import check_ledger
from billing_cli.clock import parse_time, to_unix
from tests.trust_state import build_catalog, gapless, ledger_state, start

pytestmark = pytest.mark.slow  # SIGKILL timing tests: `-m 'not slow'` skips them

CUSTOMERS = 300
START = "2026-01-01T00:00:00Z"
RUN_AT = "2026-03-01T02:00:00Z"  # January and February ended, past their grace: finalized
MARCH_ROWS = 20_500  # the import beside the run: three batches of March usage


def write_csv(path: Path, first_ts: int, rows: int, step: int, prefix: str) -> None:
    lines = ["event_name,identifier,timestamp,stripe_customer_id,value"]
    for n in range(rows):
        ident = "" if n % 10 == 0 else f"{prefix}{n}"
        lines.append(f"api_tokens,{ident},{first_ts + n * step // 1000},"
                     f"cus_{n % CUSTOMERS:03d},{n % 97 + 1}")  # fmt: skip
    path.write_text("\n".join(lines) + "\n")


def import_csv(db: Path, now: str, source: Path) -> None:
    with open(source, "rb") as stream:
        # January and February are back-filled on March 1st: a window wider than 35 days
        import_events(Context(db, parse_time(now)), stream, "csv", max_age=90 * 86400)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("crash")
    template = root / "template.db"
    ctx = Context(template, parse_time(START))
    build_catalog(ctx, CUSTOMERS, unit_amount_decimal="0.04", seat_amount=2000, seats=3)
    usage = root / "usage.csv"  # January and February usage, imported before the run
    write_csv(usage, to_unix(parse_time(START)), 6_000, 849_000, "u")
    import_csv(template, "2026-03-01T00:30:00Z", usage)
    march = root / "march.csv"  # March usage, in the open period: no invoice run touches it
    write_csv(march, to_unix(parse_time("2026-03-01T00:00:00Z")), MARCH_ROWS, 350, "m")
    before = len(ledger_state(template)["invoices"])  # the seat customers' creation invoices
    clean = root / "clean.db"
    shutil.copy(template, clean)
    started = time.perf_counter()
    proc = start(clean, RUN_AT, "invoice", "run", "--json")
    _, err = proc.communicate(timeout=60)
    seconds = time.perf_counter() - started
    assert proc.returncode == 0, err
    both = root / "clean_both.db"
    shutil.copy(clean, both)
    import_csv(both, RUN_AT, march)
    return {"root": root, "template": template, "march": march, "before": before,
            "clean": ledger_state(clean), "clean_both": ledger_state(both),
            "seconds": seconds}  # fmt: skip


def holds_write_lock(db: Path) -> bool:
    """True while another connection is inside a write transaction (BEGIN IMMEDIATE)."""
    conn = sqlite3.connect(db, timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:
        return True
    finally:
        conn.close()  # rolls our own probe back
    return False


def kill(procs: list[Any], db: Path, when: tuple[str, float], seconds: float) -> None:
    """SIGKILL every process: ("lock", d) d seconds after one is first seen holding the write
    lock, i.e. inside a transaction whatever the machine's speed; ("time", f) at f × `seconds`
    after the start."""
    kind, amount = when
    if kind == "lock":
        deadline = time.monotonic() + 30
        while not holds_write_lock(db):
            assert time.monotonic() < deadline and all(p.poll() is None for p in procs)
            time.sleep(0.002)
        time.sleep(amount)
    else:
        time.sleep(amount * seconds)
    for proc in procs:
        proc.send_signal(signal.SIGKILL)
    for proc in procs:
        proc.communicate(timeout=60)


def invoice_count(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT count(*) FROM invoices").fetchone()[0]
    finally:
        conn.close()


RUN_KILLS = [("lock", 0.0), ("lock", 0.15), ("time", 0.9)]


@pytest.mark.parametrize("when", RUN_KILLS, ids=["at-lock", "lock+0.15s", "0.9-of-a-run"])
def test_sigkill_during_invoice_run_then_rerun_equals_a_clean_run(
    setup: dict[str, Any], when: tuple[str, float]
) -> None:
    db = setup["root"] / f"run_{when[0]}_{when[1]}.db"
    shutil.copy(setup["template"], db)
    kill([start(db, RUN_AT, "invoice", "run")], db, when, setup["seconds"])
    # One transaction: the killed run left all of its invoices or none (none when it was
    # killed holding the lock).
    left = invoice_count(db)
    assert (
        left == setup["before"]
        if when[0] == "lock"
        else left
        in (
            setup["before"],
            len(setup["clean"]["invoices"]),
        )
    )
    invoices_api.run(Context(db, parse_time(RUN_AT)))
    state = ledger_state(db)
    assert state == setup["clean"]
    assert gapless(state)
    assert check_ledger(Context(db, parse_time(RUN_AT))).ok


@pytest.mark.parametrize("when", [("lock", 0.2)], ids=["lock+0.2s"])
def test_sigkill_an_import_and_a_run_side_by_side(
    setup: dict[str, Any], when: tuple[str, float]
) -> None:
    db = setup["root"] / f"both_{when[0]}_{when[1]}.db"
    shutil.copy(setup["template"], db)
    procs = [
        start(db, RUN_AT, "event", "import", str(setup["march"])),
        start(db, RUN_AT, "invoice", "run"),
    ]
    kill(procs, db, when, setup["seconds"])
    partial = ledger_state(db)
    assert len(partial["events"]) - 6_000 in (0, 10_000, 20_000, MARCH_ROWS)  # whole batches
    assert len(partial["invoices"]) in (setup["before"], len(setup["clean"]["invoices"]))
    invoices_api.run(Context(db, parse_time(RUN_AT)))
    import_csv(db, RUN_AT, setup["march"])
    state = ledger_state(db)
    assert state == setup["clean_both"]
    assert gapless(state)
    assert check_ledger(Context(db, parse_time(RUN_AT))).ok
