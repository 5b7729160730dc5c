"""`event import` in two processes (api/import_pipeline.py, issue 10.10): past its first batch an
SQLite import prepares batches in a forked child and stores them here. The ledger it leaves
must be the one the sequential import leaves, row for row and hash for hash, and a writer that
comes between two batches (an event sent, an invoice finalized) must be seen by the batches
after it. Small batches make the pipeline run on small files."""

from __future__ import annotations

import errno
import io
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from billing_cli.api import Context
from billing_cli.api.event_import import ImportSummary, RejectedRow, import_events
from billing_cli.clock import from_unix
from billing_cli.storage.sqlite import Ledger
from tests.conftest import NOW, NOW_TS, Billing, build_alpaca

DAY = 86400


def source(rows: int, start: int = NOW_TS - 20 * DAY) -> bytes:
    """`rows` events, one a minute from `start`, with repeats that exercise the duplicate
    rules across batches: every 10th row repeats an earlier identifier (a duplicate), every
    17th reuses one with another value (a conflict), every 13th has no identifier and the same
    content as the row before it (derived identifiers, counted), every 23rd is refused."""
    out = ["event_name,identifier,timestamp,stripe_customer_id,value"]
    for i in range(rows):
        ts = start + 60 * i
        if i % 23 == 22:
            out.append(f"api_tokens,bad{i},{ts},cus_nobody,1")
        elif i % 17 == 16:
            out.append(f"api_tokens,e{i - 9},{ts - 540},cus_alpaca,{i}.5")
        elif i % 13 == 12:
            out.append(f"api_tokens,,{start},cus_alpaca,7")
        elif i % 10 == 9:
            j = i - 7
            out.append(f"api_tokens,e{j},{start + 60 * j},cus_alpaca,{j % 97 + 1}")
        else:
            out.append(f"api_tokens,e{i},{ts},cus_alpaca,{i % 97 + 1}")
    return ("\n".join(out) + "\n").encode()


def run(db: Path, data: bytes, batch_size: int, **hooks: Any) -> tuple[ImportSummary, list]:
    rejects: list[RejectedRow] = []
    summary = import_events(
        Context(db, from_unix(NOW_TS)), io.BytesIO(data), "csv", on_reject=rejects.append,
        batch_size=batch_size, **hooks,
    )  # fmt: skip
    return summary, [(r.line, r.code, r.identifier) for r in rejects]


def contents(db: Path) -> tuple[list[tuple], list[tuple]]:
    led = Ledger(db, create=False)
    try:
        assert led.verify_event_chain() is None
        assert led.verify_rollups() is None
    finally:
        led.close()
    conn = sqlite3.connect(db)
    try:
        events = conn.execute("SELECT * FROM meter_events ORDER BY seq").fetchall()
        rollups = conn.execute("SELECT * FROM usage_hourly ORDER BY 1, 2, 3").fetchall()
        return events, rollups
    finally:
        conn.close()


def fresh(tmp_path: Path, name: str) -> Path:
    billing = Billing(tmp_path / name)
    build_alpaca(billing)
    return billing.db


def test_the_pipelined_ledger_is_the_sequential_one_row_for_row(tmp_path: Path) -> None:
    data = source(1000)
    one, two = fresh(tmp_path, "one.db"), fresh(tmp_path, "two.db")
    sequential = run(one, data, batch_size=10**6)
    pipelined = run(two, data, batch_size=37)
    assert pipelined == sequential
    summary = sequential[0]
    assert summary.read == 1000 and summary.rejected > 0 and summary.duplicates > 0
    assert summary.derived_identifiers > 0
    assert any(code == "identifier_conflict" for _, code, _ in sequential[1])
    assert contents(two) == contents(one)


def test_a_second_import_of_the_same_file_finds_only_duplicates(tmp_path: Path) -> None:
    data = source(500)
    db = fresh(tmp_path, "l.db")
    first, first_rejects = run(db, data, batch_size=40)
    again, rejects = run(db, data, batch_size=40)
    assert again.accepted == 0 and again.duplicates == first.accepted + first.duplicates
    assert rejects == first_rejects


def test_an_event_sent_between_batches_is_chained_before_the_next_batch(
    tmp_path: Path,
) -> None:
    """The child links batch 3 after the head batch 2 leaves (batch 1 is committed before the
    fork); the event sent once batch 2 is committed moves the head, so batch 3 is prepared
    again under the lock and linked after that event."""
    data = source(300)
    db = fresh(tmp_path, "l.db")
    sent: list[int] = []
    progress: list[int] = []

    def send_once(summary: ImportSummary) -> None:
        progress.append(summary.read)
        if len(progress) == 2:
            sent.append(summary.accepted)
            other = Billing(db)
            result = other("event", "send", "--event-name", "api_tokens", "--customer",
                           "cus_alpaca", "--value", "5", "--identifier", "between")  # fmt: skip
            assert result.exit_code == 0, result.stderr

    summary, _ = run(db, data, batch_size=50, on_progress=send_once)
    reference, _ = run(fresh(tmp_path, "ref.db"), data, batch_size=10**6)
    assert summary == reference
    events, _ = contents(db)
    identifiers = [row[1] for row in events]
    assert identifiers.index("between") == sent[0]  # right after the first batch's rows
    assert len(events) == reference.accepted + 1
    assert [row[0] for row in events] == list(range(1, len(events) + 1))


def test_an_invoice_finalized_between_batches_makes_the_later_rows_late(tmp_path: Path) -> None:
    """Rows of a period an `invoice run` closed while the import ran are late from the next
    batch on, although the child had validated that batch before the run."""
    billing = Billing(tmp_path / "l.db")
    build_alpaca(billing)
    db = billing.db
    start = NOW_TS - 20 * DAY
    billing.json("subscription", "create", "--customer", "cus_alpaca", "--price",
                 "price_tokens", now=_iso(start - DAY))  # fmt: skip
    data = b"event_name,identifier,timestamp,stripe_customer_id,value\n" + b"".join(
        f"api_tokens,e{i},{start + i},cus_alpaca,1\n".encode() for i in range(200)
    )
    progress: list[int] = []

    def close_once(summary: ImportSummary) -> None:
        progress.append(summary.read)
        if len(progress) == 2:  # batch 2, the first one the child prepared, is committed
            period_end = start - DAY + 31 * DAY  # a month after the subscription began
            for when in (period_end + 60, period_end + 2 * 3600):  # a draft, then finalized
                result = billing("invoice", "run", now=_iso(when))
                assert result.exit_code == 0, result.stderr

    summary, _ = run(db, data, batch_size=50, on_progress=close_once)
    assert summary.accepted == 200 and summary.late == 100
    events, _ = contents(db)
    assert [row[9] for row in events] == ["accepted"] * 100 + ["late"] * 100


def test_rejects_and_progress_come_batch_by_batch_in_line_order(tmp_path: Path) -> None:
    data = source(400)
    db = fresh(tmp_path, "l.db")
    seen: list[tuple[str, int]] = []
    summary, rejects = run(
        db, data, batch_size=60, on_progress=lambda s: seen.append(("progress", s.read))
    )
    assert [n for _, n in seen] == [60 * k for k in range(1, 7)] + [400]
    lines = [line for line, _, _ in rejects]
    assert lines == sorted(lines) and summary.rejected == len(rejects)


def _iso(ts: int) -> str:
    return from_unix(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_wal_is_checkpointed_and_removed_when_the_import_ends(tmp_path: Path) -> None:
    """The child's connection closes before the parent's, so the parent's close, the last one,
    folds the WAL into the file and removes it (it was left behind, 256 MB after 1M rows)."""
    db = fresh(tmp_path, "l.db")
    summary, _ = run(db, source(300), batch_size=40)
    assert summary.accepted > 0
    assert not Path(f"{db}-wal").exists()


class _FailingStream(io.BytesIO):
    """An input that cannot be read past `limit` bytes (a disk that went away)."""

    def __init__(self, data: bytes, limit: int) -> None:
        super().__init__(data)
        self.limit = limit

    def readline(self, size: int | None = -1) -> bytes:
        if self.tell() >= self.limit:
            raise OSError(5, "Input/output error")
        return super().readline(size)


def test_an_input_that_fails_midway_keeps_the_batches_before_it(tmp_path: Path) -> None:
    """The child reports the error after the batches it read before it; the parent commits
    those and raises it, as the sequential import does."""
    data = source(300)
    limit = len(b"".join(data.splitlines(keepends=True)[:200]))
    counts, reads = [], []
    for name, batch_size in (("seq.db", 10**6), ("one.db", 1000), ("two.db", 40)):
        db = fresh(tmp_path, name)
        progress: list[int] = []
        try:
            run_stream(db, _FailingStream(data, limit), batch_size, progress.append)
        except OSError as exc:
            assert exc.errno == 5
        else:
            raise AssertionError("the import did not fail")
        events, _ = contents(db)
        counts.append(len(events))
        reads.append(progress[-1] if progress else 0)
    assert counts[0] == counts[1] == 0  # the failure came inside the first (only) batch
    # The header and 199 rows can be read: four batches of 40 were committed, the fifth not.
    assert reads[2] == 160 and 0 < counts[2] < 160


def run_stream(db: Path, stream: io.BytesIO, batch_size: int, on_progress: Any) -> None:
    import_events(
        Context(db, from_unix(NOW_TS)), stream, "csv", batch_size=batch_size,
        on_progress=lambda s: on_progress(s.read),
    )  # fmt: skip


def _count(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return int(conn.execute("SELECT count(*) FROM meter_events").fetchone()[0])
    except sqlite3.Error:
        return 0
    finally:
        conn.close()


def _processes_naming(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if text.encode() in cmdline:
                found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")
def test_a_killed_import_leaves_no_child_behind(tmp_path: Path) -> None:
    """SIGKILL of the command while its child is ahead of it, waiting to hand over the batches
    it prepared (the command is held on the write lock, which the test takes), ends the child
    too: it used to wait forever on its full outbox."""
    db = fresh(tmp_path, "killed.db")
    csv = tmp_path / "events.csv"
    csv.write_bytes(source(60_000, start=NOW_TS - 30 * DAY))
    env = {k: v for k, v in os.environ.items() if not k.startswith("BILLING_")}
    env["PYTHONPATH"] = str(Path(__file__).parents[1])
    argv = [sys.executable, "-m", "billing_cli", "--db", str(db), "--now", NOW, "event",
            "import", str(csv), "--json"]  # fmt: skip
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(_processes_naming(str(db))) < 2 or not _count(db):  # forked, a batch committed
        assert proc.poll() is None and time.monotonic() < deadline, "no child was forked"
        time.sleep(0.01)
    lock = sqlite3.connect(db, timeout=60, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # the command waits for it; its child reads on
    time.sleep(3)
    proc.kill()
    proc.wait()
    lock.execute("ROLLBACK")
    lock.close()
    deadline = time.monotonic() + 30
    while _processes_naming(str(db)):
        assert time.monotonic() < deadline, "the child outlived the killed import"
        time.sleep(0.05)
    events, _ = contents(db)  # whole batches, chain and roll-ups intact
    assert len(events) > 0


def test_without_a_second_process_the_import_goes_on_in_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """fork() can fail (a process limit, no memory): the import then goes on in this process,
    and leaves the same ledger. The failure is injected: root ignores process limits."""

    def no_fork() -> int:
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

    data = source(300)
    reference = fresh(tmp_path, "ref.db")
    expected = run(reference, data, batch_size=10**6)
    monkeypatch.setattr(os, "fork", no_fork)
    db = fresh(tmp_path, "l.db")
    assert run(db, data, batch_size=40) == expected
    assert contents(db) == contents(reference)


def test_a_file_larger_than_a_batch_forks_before_its_first_batch(tmp_path: Path) -> None:
    """A regular file that surely holds more than a batch is handed to the child from its
    first row (nothing committed in one process first); the ledger is the same."""
    data = source(600)
    path = tmp_path / "events.csv"
    path.write_bytes(data)
    reference = fresh(tmp_path, "ref.db")
    expected = run(reference, data, batch_size=10**6)
    db = fresh(tmp_path, "l.db")
    rejects: list[RejectedRow] = []
    progress: list[int] = []
    with path.open("rb") as stream:
        summary = import_events(
            Context(db, from_unix(NOW_TS)), stream, "csv", on_reject=rejects.append,
            on_progress=lambda s: progress.append(s.read), batch_size=50,
        )  # fmt: skip
    assert (summary, [(r.line, r.code, r.identifier) for r in rejects]) == expected
    assert progress == [50 * k for k in range(1, 13)] + [600]
    assert contents(db) == contents(reference)


def test_jsonl_in_stripes_layout_is_pipelined_to_the_same_ledger(tmp_path: Path) -> None:
    """JSONL (Stripe's `payload` object, bad lines among good ones) through two processes:
    the rejects keep their original text, the ledger is the sequential one."""
    lines = []
    for i in range(400):
        n = i % 350  # the last 50 lines repeat earlier ones: duplicates in later batches
        payload = {"stripe_customer_id": "cus_alpaca", "value": str(n % 7 + 1)}
        event = {"event_name": "api_tokens", "identifier": f"j{n}",
                 "timestamp": NOW_TS - 86400 + n, "payload": payload}  # fmt: skip
        lines.append(json.dumps(event) if i % 31 else '{"event_name": "api_tokens", broken')
    data = ("\n".join(lines) + "\n").encode()
    results = []
    for name, batch_size in (("seq.db", 10**6), ("two.db", 45)):
        db = fresh(tmp_path, name)
        rejects: list[RejectedRow] = []
        summary = import_events(
            Context(db, from_unix(NOW_TS)), io.BytesIO(data), "jsonl",
            on_reject=rejects.append, batch_size=batch_size,
        )  # fmt: skip
        results.append((summary, [(r.line, r.code, r.raw.raw) for r in rejects], contents(db)))
    assert results[0] == results[1]
    summary, rejects, _ = results[0]
    assert summary.duplicates > 0 and summary.rejected == len(rejects) > 0
    assert all(raw and "broken" in raw for _, _, raw in rejects)
