"""Issue 15 item 6: a `ledger backup` killed midway leaves its hidden temporary copy behind;
the next backup into that folder, or `ledger check` for the ledger's folder, removes the ones
that are recognizably ours and whose writer is gone (by pid and age), and nothing else."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from billing_cli.storage.sqlite import backup_files
from billing_cli.storage.sqlite.schema import APPLICATION_ID
from tests.conftest import NOW_TS, Billing, json_of

HOUR = 3600


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def make(folder: Path, name: str, *, age: float, content: bytes = b"x" * 100) -> Path:
    path = folder / name
    path.write_bytes(content)
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def ledger_header() -> bytes:
    header = bytearray(b"SQLite format 3\x00" + bytes(84))
    header[68:72] = APPLICATION_ID.to_bytes(4, "big")
    return bytes(header)


def test_stale_files_are_told_apart_by_name_host_pid_and_age(tmp_path: Path) -> None:
    host = backup_files._host()
    gone, alive = dead_pid(), os.getpid()
    stale = [
        make(tmp_path, f".billing-backup.{host}.{gone}.0123abcd.tmp", age=120),
        make(tmp_path, f".billing-backup.{host}.{gone}.0123abcd.tmp-journal", age=120),
        make(tmp_path, f".billing-backup.otherbox.{alive}.89abcdef.tmp", age=25 * HOUR),
        make(tmp_path, ".nightly.db.deadbeef.tmp", age=25 * HOUR, content=ledger_header()),
    ]
    kept = [
        make(tmp_path, f".billing-backup.{host}.{alive}.0123abcd.tmp", age=2 * HOUR),  # running
        make(tmp_path, f".billing-backup.{host}.{gone}.4567abcd.tmp", age=10),  # just now
        make(tmp_path, f".billing-backup.otherbox.{gone}.89abcdef.tmp", age=2 * HOUR),
        make(tmp_path, ".recent.db.deadbeef.tmp", age=2 * HOUR, content=ledger_header()),
        make(tmp_path, ".notes.txt.deadbeef.tmp", age=25 * HOUR),  # not a ledger
        make(tmp_path, "billing-backup.tmp", age=25 * HOUR),
        make(tmp_path, "billing.db", age=25 * HOUR),
    ]
    removed = backup_files.remove_stale(tmp_path)
    assert sorted(path for path, _ in removed) == sorted(stale)
    assert all(size > 0 for _, size in removed)
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in kept)


def killed_backups(billing: Billing, folder: Path, count: int) -> list[Path]:
    """Start `ledger backup` processes and SIGKILL each as soon as its temporary copy shows."""
    leftovers: set[Path] = set()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BILLING_")}
    for n in range(count * 10):
        if len(leftovers) >= count:
            break
        target = folder / f"copy{n}.db"
        proc = subprocess.Popen(
            [sys.executable, "-m", "billing_cli", "--db", str(billing.db), "ledger", "backup",
             str(target)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        while proc.poll() is None:
            temps = set(folder.glob(".billing-backup.*.tmp")) - leftovers
            if temps:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                leftovers |= temps
                break
            time.sleep(0.001)
        target.unlink(missing_ok=True)  # the backup finished before the kill: try again
    assert len(leftovers) >= count, "no backup could be caught midway"
    return sorted(leftovers)


def big_ledger(billing: Billing) -> None:
    billing.json(
        "meter", "create", "--id", "mtr_t", "--display-name", "T", "--event-name", "tok",
        "--aggregation", "sum",
    )  # fmt: skip
    billing.json("customer", "create", "--id", "cus_1")
    rows = "".join(f"tok,cus_1,1,{NOW_TS - 60},id{i}\n" for i in range(60_000))
    data = "event_name,stripe_customer_id,value,timestamp,identifier\n" + rows
    assert json_of(billing("event", "import", "-", "--format", "csv", "--json", input=data))


@pytest.mark.slow  # SIGKILLs real backups midway
def test_the_next_backup_removes_what_killed_backups_left(billing: Billing, tmp_path: Path) -> None:
    big_ledger(billing)
    folder = tmp_path / "backups"
    folder.mkdir()
    leftovers = killed_backups(billing, folder, 2)
    past = time.time() - 2 * backup_files.ORPHAN_SECONDS
    for path in leftovers:
        os.utime(path, (past, past))  # the minute of grace has gone by
    result = billing("ledger", "backup", str(folder / "tonight.db"), "--json")
    copy = json_of(result)
    removed = {Path(r["path"]) for r in copy["removed_stale_files"]}
    assert removed >= set(leftovers)  # with the -journal SQLite kept beside each
    assert all(p.name.startswith(".billing-backup.") for p in removed)
    assert "left by interrupted `ledger backup`s" in result.stderr
    assert [p.name for p in folder.iterdir()] == ["tonight.db"]


def test_ledger_check_removes_leftovers_beside_the_ledger(billing: Billing) -> None:
    big_ledger(billing)
    folder = billing.db.parent
    name = f".billing-backup.{backup_files._host()}.{dead_pid()}.0123abcd.tmp"
    leftover = make(folder, name, age=2 * backup_files.ORPHAN_SECONDS)
    report = json_of(billing("ledger", "check", "--json"))
    assert report["ok"] is True
    assert report["removed_stale_files"] == [{"path": str(leftover), "bytes": 100}]
    assert not leftover.exists()
