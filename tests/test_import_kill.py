"""Imports as real processes (SPEC 2.5, 6): SIGKILL at any point then re-running ends in the
state of one clean run; two overlapping imports at once lose nothing and count nothing twice."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from billing_cli.api import Context, catalog
from billing_cli.clock import parse_time
from tests.trust_state import assert_event_chain_and_rollups_whole

pytestmark = pytest.mark.slow  # SIGKILL timing tests: `-m 'not slow'` skips them

NOW = "2026-11-01T09:00:00Z"
NOW_TS = 1_793_523_600
ROWS = 50_000
CUSTOMERS = 40


def write_events(path: Path, first: int, last: int) -> None:
    """Rows first..last-1 of one deterministic stream; every 10th has no identifier (derived)."""
    rnd = random.Random(7)
    lines = ["event_name,identifier,timestamp,stripe_customer_id,value"]
    for n in range(last):
        ts = NOW_TS - rnd.randrange(30 * 86400)
        customer, value = f"cus_{rnd.randrange(CUSTOMERS)}", rnd.randrange(1, 5000)
        if n >= first:
            ident = "" if n % 10 == 0 else f"evt_{n}"
            lines.append(f"api_tokens,{ident},{ts},{customer},{value}.{n % 7}")
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("kill")
    template = root / "template.db"
    ctx = Context(template, parse_time(NOW))
    catalog.create_meter(ctx, display_name="T", event_name="api_tokens", aggregation="sum",
                         meter_id="mtr_tokens")  # fmt: skip
    for i in range(CUSTOMERS):
        catalog.create_customer(ctx, name=f"c{i}", customer_id=f"cus_{i}")
    events = root / "events.csv"
    write_events(events, 0, ROWS)
    clean = root / "clean.db"
    shutil.copy(template, clean)
    assert run_import(clean, events).returncode == 0
    return {"root": root, "template": template, "events": events, "clean": clean}


def command(db: Path, source: Path) -> list[str]:
    return [sys.executable, "-m", "billing_cli", "--db", str(db), "--now", NOW, "event",
            "import", str(source), "--json"]  # fmt: skip


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BILLING_")}
    env["BILLING_BUSY_TIMEOUT_MS"] = "60000"
    return env


def run_import(db: Path, source: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command(db, source), capture_output=True, text=True, env=environment())
    assert "Traceback" not in done.stderr, done.stderr
    return done


def state(db: Path) -> tuple[list[tuple], list[tuple]]:
    """Every event (seq, identifier, content, hash) and every roll-up, in key order."""
    conn = sqlite3.connect(db)
    try:
        events = conn.execute("SELECT * FROM meter_events ORDER BY seq").fetchall()
        rollups = conn.execute("SELECT * FROM usage_hourly ORDER BY meter, customer, hour")
        return events, rollups.fetchall()
    finally:
        conn.close()


@pytest.mark.parametrize("delay", [0.2, 0.6, 1.3])
def test_sigkill_then_rerun_equals_one_clean_run(setup: dict[str, Path], delay: float) -> None:
    db = setup["root"] / f"killed_{delay}.db"
    shutil.copy(setup["template"], db)
    proc = subprocess.Popen(command(db, setup["events"]), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=environment())  # fmt: skip
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = len(state(db)[0])
    assert partial % 10_000 == 0 or partial == state(setup["clean"])[0].__len__()  # whole batches
    assert_event_chain_and_rollups_whole(db)
    again = run_import(db, setup["events"])
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert summary["read"] == ROWS and summary["rejected"] == 0
    assert summary["duplicates"] == partial and summary["accepted"] == ROWS - partial
    assert state(db) == state(setup["clean"])
    assert_event_chain_and_rollups_whole(db)


def test_two_overlapping_imports_at_once_lose_nothing_and_count_nothing_twice(
    setup: dict[str, Path],
) -> None:
    root = setup["root"]
    first, second = root / "first.csv", root / "second.csv"
    write_events(first, 0, 30_000)
    write_events(second, 15_000, 45_000)
    db = root / "concurrent.db"
    shutil.copy(setup["template"], db)
    procs = [
        subprocess.Popen(command(db, src), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=environment())
        for src in (first, second)
    ]  # fmt: skip
    outputs = [p.communicate() for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    summaries = [json.loads(out) for out, _ in outputs]
    assert sum(s["accepted"] for s in summaries) == 45_000
    assert sum(s["duplicates"] for s in summaries) == 15_000
    events, rollups = state(db)
    assert len(events) == 45_000 and len({e[1] for e in events}) == 45_000
    total = sum((Decimal(e[6]) for e in events), Decimal(0))
    assert sum((Decimal(r[4]) for r in rollups), Decimal(0)) == total
    assert sum(r[3] for r in rollups) == 45_000
    assert_event_chain_and_rollups_whole(db)
    # The same rows as the clean run's first 45,000 (receipt order may differ).
    clean = {e[1]: e[1:9] for e in state(setup["clean"])[0]}
    assert sorted(e[1:9] for e in events) == sorted(clean[e[1]] for e in events)
