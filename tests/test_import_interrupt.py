"""Ctrl-C during `event import` (issue 16.4, issue 10): one line says what was committed and
whether a re-run is needed; exit 130 either way.

Both cases are made deterministic, never timed: the test decides where the import stands when
the signal arrives.
- Mid-import: the rows come through a pipe that the test keeps open, so once the first batch is
  committed the import can only be waiting for more input (or finishing that batch), and the
  signal lands between batches.
- During the last batch: the reject file is a named pipe that the test does not read, and the
  rejected rows are larger than a pipe holds. The import writes rejects after its batch is
  committed and before it is done with it, so when the first bytes appear the import is inside
  its last batch, and stays there until the test reads.
"""

from __future__ import annotations

import array
import fcntl
import os
import signal
import sqlite3
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from conftest import NOW, Billing

from billing_cli.api.event_import import BATCH_SIZE

BATCH = BATCH_SIZE  # the test relies on the import committing this many rows at a time


def committed(db: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute("SELECT count(*) FROM meter_events").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def _import(db: Path, *args: str, **popen: object) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BILLING_")}
    env["PYTHONPATH"] = str(Path(__file__).parents[1])
    argv = [sys.executable, "-m", "billing_cli", "--db", str(db), "--now", NOW,
            "event", "import", *args]  # fmt: skip
    return subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True, **popen)  # type: ignore[call-overload]


def _wait(condition: object, proc: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 120
    while not condition() and proc.poll() is None:  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.005)
    assert proc.poll() is None, f"the import ended before {what}: {proc.communicate()[1]}"


def test_ctrl_c_says_what_was_committed_and_a_rerun_completes_it(alpaca: Billing, tmp_path):
    rows = [f"api_tokens,cus_alpaca,{i % 97 + 1}\n" for i in range(BATCH + 500)]
    header = "event_name,stripe_customer_id,value\n"
    source = tmp_path / "events.csv"
    source.write_text(header + "".join(rows))
    alpaca.json("subscription", "create", "--customer", "cus_alpaca", "--price", "price_tokens")
    proc = _import(alpaca.db, "-", "--format", "csv", stdin=subprocess.PIPE)
    assert proc.stdin is not None
    proc.stdin.write(header + "".join(rows))  # one batch and a half; stdin stays open
    proc.stdin.flush()
    _wait(lambda: committed(alpaca.db) == BATCH, proc, "the first batch is committed")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert committed(alpaca.db) == BATCH
    assert lines[0] == (
        f"error: interrupted: 1 batch committed, rows 1 to {BATCH} ({BATCH} accepted,"
        " 0 duplicates, 0 rejected); the batch in flight was rolled back; run the same import"
        " again to complete it (committed rows are skipped as duplicates)"
    )
    rerun = alpaca("event", "import", str(source), "--json")
    assert rerun.exit_code == 0, rerun.stderr
    assert committed(alpaca.db) == BATCH + 500
    assert f'"duplicates": {BATCH}' in rerun.stdout


def _unread_bytes(fd: int) -> int:
    count = array.array("i", [0])
    fcntl.ioctl(fd, termios.FIONREAD, count)
    return count[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_ctrl_c_during_the_last_batch_exits_130_saying_everything_was_committed(
    alpaca: Billing, tmp_path: Path
) -> None:
    good, bad, note = 300, 40, "n" * 100_000  # 40 rejects of 100 kB: more than a pipe holds
    source = tmp_path / "events.csv"
    with source.open("w") as out:
        out.write("event_name,stripe_customer_id,value,note\n")
        for i in range(good):
            out.write(f"api_tokens,cus_alpaca,{i + 1},\n")
        for i in range(bad):
            out.write(f"api_tokens,cus_nobody,{i + 1},{note}\n")
    rejects = tmp_path / "rejects.csv"
    os.mkfifo(rejects)
    reader = os.open(rejects, os.O_RDONLY | os.O_NONBLOCK)
    try:
        proc = _import(alpaca.db, str(source), "--reject-file", str(rejects))
        _wait(lambda: _unread_bytes(reader) > 0, proc, "rejects are written")
        proc.send_signal(signal.SIGINT)  # inside the last (only) batch, after its commit
        os.set_blocking(reader, True)
        written = b"".join(iter(lambda: os.read(reader, 1 << 16), b""))
    finally:
        os.close(reader)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    lines = err.strip().splitlines()
    assert lines[-1] == (
        f"error: interrupted: the import had completed: all {good + bad} rows were read and"
        f" 1 batch committed ({good} accepted, 0 duplicates, {bad} rejected); nothing is left to"
        " import"
    )
    assert "Traceback" not in err and not any("rolled back" in line for line in lines), err
    assert committed(alpaca.db) == good
    assert written.count(note.encode()) == bad  # the reject file is complete too
    rerun = alpaca("event", "import", str(source), "--json")
    assert rerun.exit_code == 7 and f'"duplicates": {good}' in rerun.stdout, rerun.stderr
    assert committed(alpaca.db) == good
