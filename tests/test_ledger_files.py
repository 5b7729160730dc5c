"""Ledger files a command must refuse (SPEC 5.2 exit 6, SPEC 6): truncated, not SQLite, another
program's database, a newer schema, read-only, locked too long. Each gives one clear `error:`
line, no traceback, and a refused file is left exactly as it was (bytes, mtime, no -wal/-shm
files appearing beside it). tests/test_ledger.py covers the basic refusals; this file drives
every kind of command (read, write, backup, check) into each bad file, and runs the real
program in a subprocess where the operating system itself must say no."""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from billing_cli.storage.sqlite.schema import SCHEMA_VERSION
from tests.conftest import Billing, assert_error, json_of, snapshot

READ = ("meter", "list")
WRITE = ("customer", "create", "--name", "x")
COMMANDS = {
    "read": READ,
    "write": WRITE,
    "show": ("price", "show", "price_tokens"),
    "backup": ("ledger", "backup", "{tmp}/copy.db"),
    "check": ("ledger", "check"),
}


def file_state(path: Path) -> tuple[bytes, int, list[str]]:
    """Bytes, mtime and the folder's listing: everything a refused open must leave alone."""
    return path.read_bytes(), path.stat().st_mtime_ns, sorted(os.listdir(path.parent))


def args_for(kind: str, tmp: Path) -> list[str]:
    return [a.format(tmp=tmp) for a in COMMANDS[kind]]


def real_ledger(billing: Billing) -> None:
    """A ledger shaped like a real one, mostly events, so a cut in half spares the schema and
    the catalog's pages (the events are written directly: their own commands live elsewhere)."""
    billing.json(
        "meter", "create", "--id", "mtr_tokens", "--display-name", "Tokens",
        "--event-name", "api_tokens", "--aggregation", "sum",
    )  # fmt: skip
    billing.json("customer", "create", "--id", "cus_a", "--name", "A")
    conn = sqlite3.connect(billing.db)
    with conn:
        conn.executemany(
            "INSERT INTO meter_events VALUES (?, ?, 'api_tokens', 'mtr_tokens', 'cus_a', ?, '5',"
            " ?, ?, 'accepted', ?)",
            [(i, f"row_{i:08d}", i, "{" + "x" * 150 + "}", i, f"{i:064d}") for i in range(1, 4001)],
        )
    conn.close()


# -- damaged and foreign files -------------------------------------------------------------
def _half(path: Path, billing: Billing) -> None:
    real_ledger(billing)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _odd_cut(path: Path, billing: Billing) -> None:
    real_ledger(billing)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 4097])


def _random_bytes(path: Path, billing: Billing) -> None:
    path.write_bytes(random.Random(7).randbytes(64 * 1024))


def _text_file(path: Path, billing: Billing) -> None:
    path.write_text("identifier,event_name,stripe_customer_id,value\nrow_1,api_tokens,cus_a,5\n")


def _other_program(path: Path, billing: Billing) -> None:
    conn = sqlite3.connect(path)
    conn.executescript("CREATE TABLE moz_places (url TEXT); INSERT INTO moz_places VALUES ('x');")
    conn.close()


def _newer_schema(path: Path, billing: Billing) -> None:
    real_ledger(billing)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()


BAD_FILES: dict[str, tuple[Callable[[Path, Billing], None], str]] = {
    "truncated to half": (_half, "truncated"),
    "cut mid-page": (_odd_cut, "truncated"),
    "random bytes": (_random_bytes, "not an SQLite file"),
    "text file": (_text_file, "not an SQLite file"),
    "another program's database": (_other_program, "another program"),
    "newer schema": (_newer_schema, f"schema {SCHEMA_VERSION + 1}"),
}


@pytest.mark.parametrize("kind", sorted(COMMANDS))
@pytest.mark.parametrize("bad", sorted(BAD_FILES))
def test_bad_files_are_refused_untouched(
    billing, db: Path, tmp_path: Path, bad: str, kind: str
) -> None:
    make, fragment = BAD_FILES[bad]
    make(db, billing)
    stamp = time.time_ns() - 10**10  # an mtime any write would move
    os.utime(db, ns=(stamp, stamp))
    before = file_state(db)
    line = assert_error(billing(*args_for(kind, tmp_path)), 6, str(db))
    assert fragment in line
    assert file_state(db) == before
    assert not (tmp_path / "copy.db").exists()


def test_a_truncated_ledger_names_both_sizes(billing, db: Path) -> None:
    """Not SQLite's "database disk image is malformed": the user learns the file was cut."""
    real_ledger(billing)
    full = db.read_bytes()
    db.write_bytes(full[: len(full) // 2])
    line = assert_error(billing(*READ), 6, "truncated", str(len(full) // 2), str(len(full)))
    assert "malformed" not in line


def test_restoring_the_whole_file_makes_it_work_again(billing, db: Path, tmp_path: Path) -> None:
    real_ledger(billing)
    saved = tmp_path / "saved.db"
    shutil.copy(db, saved)
    db.write_bytes(db.read_bytes()[:5000])
    assert_error(billing(*READ), 6, "truncated")
    shutil.copy(saved, db)
    assert json_of(billing(*READ, "--json"))["data"][0]["id"] == "mtr_tokens"


# -- read-only: the operating system must say no -------------------------------------------
def unprivileged() -> list[str]:
    """A command prefix under which file permissions apply. Root ignores them (CAP_DAC_OVERRIDE),
    so as root the program runs with that capability dropped (util-linux `setpriv`)."""
    if os.geteuid() != 0:
        return []
    prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"]
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: cannot make a file read-only for root")
    probe = subprocess.run([*prefix, "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"setpriv cannot drop capabilities here: {probe.stderr.decode().strip()}")
    return prefix


def run_real(
    db: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """The real program (python -m billing_cli) in a process of its own."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BILLING_")}
    return subprocess.run(
        [*unprivileged(), sys.executable, "-m", "billing_cli", "--db", str(db), *args],
        capture_output=True,
        text=True,
        env={**clean, **(env or {})},
        timeout=60,
    )


def assert_real_error(result: subprocess.CompletedProcess, code: int, *fragments: str) -> None:
    assert result.returncode == code, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: ") and len(lines) <= 2, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], result.stderr


def test_read_only_file(billing, db: Path) -> None:
    real_ledger(billing)
    db.chmod(0o400)
    try:
        before = file_state(db)
        assert_real_error(run_real(db, *WRITE), 6, "read-only", str(db))
        assert file_state(db) == before  # refused before SQLite opened it: no -wal, no -shm
        listed = run_real(db, *READ, "--json")
        assert listed.returncode == 0, listed.stderr
    finally:
        db.chmod(0o600)


def test_read_only_folder(billing, db: Path) -> None:
    real_ledger(billing)
    db.parent.chmod(0o500)
    try:
        before = file_state(db)
        assert_real_error(run_real(db, *WRITE), 6, "read-only", str(db))
        assert file_state(db) == before
    finally:
        db.parent.chmod(0o700)
    assert snapshot(db) is not None


def test_read_only_connection(billing, db: Path, monkeypatch) -> None:
    """Where permissions cannot be tested, SQLite's own read-only open gives the same error."""
    real_ledger(billing)
    before = snapshot(db)
    real_connect = sqlite3.connect

    def read_only(path, *args, **kwargs):  # noqa: ANN001, ANN202
        return real_connect(f"file:{path}?mode=ro", *args, uri=True, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", read_only)
    assert_error(billing(*WRITE), 6, "read-only", str(db))
    monkeypatch.undo()
    assert snapshot(db) == before


# -- locked too long -----------------------------------------------------------------------
FAST = {"BILLING_BUSY_TIMEOUT_MS": "200"}


def test_a_writer_waits_then_gives_up_on_a_held_lock(billing, db: Path) -> None:
    real_ledger(billing)
    before = snapshot(db)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        result = billing(*WRITE, env=FAST)
        waited = time.monotonic() - started
        # WAL: readers are not blocked by a writer, and neither is a backup.
        assert billing(*READ).exit_code == 0
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert_error(result, 6, "locked", str(db), "0.2 s")
    assert 0.2 <= waited < 5
    assert snapshot(db) == before


def test_an_exclusive_lock_blocks_readers_too(billing, db: Path) -> None:
    real_ledger(billing)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("UPDATE meters SET display_name = 'held'")
    holder.execute("COMMIT")  # the exclusive lock stays until the connection closes
    try:
        for kind in ("read", "write", "check"):
            assert_real_error(run_real(db, *args_for(kind, db.parent), env=FAST), 6, "locked")
    finally:
        holder.close()
    assert json_of(billing(*READ, "--json"))["data"][0]["display_name"] == "held"


def test_the_real_program_refuses_random_bytes_without_a_traceback(db: Path) -> None:
    db.write_bytes(random.Random(3).randbytes(10_000))
    before = file_state(db)
    for kind in ("read", "write"):
        assert_real_error(run_real(db, *args_for(kind, db.parent)), 6, "not an SQLite file")
    assert file_state(db) == before


def test_a_name_too_long_for_the_file_system(billing, tmp_path: Path) -> None:
    too_long = tmp_path / ("l" * 300 + ".db")
    assert_error(billing(*READ, db=too_long), 6, "File name too long")
    assert_error(billing(*WRITE, db=too_long), 6, "File name too long")
    real_ledger(billing)
    assert_error(billing("ledger", "backup", str(too_long)), 6, "File name too long")
