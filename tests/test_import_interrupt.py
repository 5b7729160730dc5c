"""Ctrl-C during `event import` (issue 16.4): one line says what was committed and that a re-run
completes it; exit 130; the re-run then adds exactly the rest."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from conftest import NOW, Billing

ROWS = 300_000  # enough batches that the signal lands mid-import on a fast machine


def committed(db: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute("SELECT count(*) FROM meter_events").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def test_ctrl_c_says_what_was_committed_and_a_rerun_completes_it(alpaca: Billing, tmp_path):
    source = tmp_path / "events.csv"
    with source.open("w") as out:
        out.write("event_name,stripe_customer_id,value\n")
        for i in range(ROWS):
            out.write(f"api_tokens,cus_alpaca,{i % 97 + 1}\n")
    alpaca.json("subscription", "create", "--customer", "cus_alpaca", "--price", "price_tokens")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BILLING_")}
    env["PYTHONPATH"] = str(Path(__file__).parents[1])
    argv = [sys.executable, "-m", "billing_cli", "--db", str(alpaca.db), "--now", NOW,
            "event", "import", str(source)]  # fmt: skip
    proc = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while committed(alpaca.db) == 0 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, "the import finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    kept = committed(alpaca.db)
    assert 0 < kept < ROWS
    assert lines[0].startswith("error: interrupted: ")
    assert f"rows 1 to {kept} " in lines[0] and "run the same import again" in lines[0]
    rerun = alpaca("event", "import", str(source), "--json")
    assert rerun.exit_code == 0, rerun.stderr
    assert committed(alpaca.db) == ROWS
    assert f'"duplicates": {kept}' in rerun.stdout
