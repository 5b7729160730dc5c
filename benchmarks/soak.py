"""Soak: concurrent imports and invoice runs, killed at random, round after round, checked
against a serial run of the same commands (the "Trust" issue; not a test: it runs for minutes).

Each round plays one month on one ledger file, as tests/test_concurrency.py does but larger and
with kills: two `event import`s of overlapping generated files (good rows, rows without an
identifier, and hostile bad rows), an `invoice run` and two status transitions (`invoice pay`
or `mark-uncollectible` of invoices finalized earlier) start at once as real processes; each
is SIGKILLed with some probability, at a random moment or a random time after some process is
seen holding the write lock (inside a transaction); killed commands are started again, all at
once, until they all complete. Every few rounds a `ledger backup` runs beside them and the copy
must pass `ledger check`. A reference ledger gets the same commands serially, in-process.

After every round the two ledgers must agree on event count and value sum, roll-ups and
invoice totals; at the end on everything (tests/trust_state.py), with `ledger check` passing
and gapless numbers: nothing lost, nothing doubled.

    .venv/bin/python benchmarks/soak.py [--seconds 150] [--rows 6000] [--customers 20]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from billing_cli.api import Context, catalog, subscriptions  # noqa: E402
from billing_cli.api import invoices as invoices_api  # noqa: E402
from billing_cli.api import prices as prices_api  # noqa: E402
from billing_cli.api.event_import import import_events  # noqa: E402
from billing_cli.api.ledger_check import check_ledger  # noqa: E402
from billing_cli.clock import parse_time, to_unix  # noqa: E402
from tests.trust_state import environment, gapless, ledger_state  # noqa: E402

HOSTILE_CELLS = ["", "NaN", "1e3", "-", "cus_nobody", "\u202e", "🦙", "9" * 40, "x" * 300,
                 "1,5", "²", "2026-02-30", "\x00", "'; DROP TABLE meter_events; --"]  # fmt: skip


def month(k: int) -> str:
    return f"{2026 + k // 12}-{k % 12 + 1:02d}-01T00:00:00Z"


def round_now(k: int) -> str:
    return month(k + 1).replace("T00:00", "T00:30")


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rnd = random.Random(args.seed)
        self.work = Path(tempfile.mkdtemp(prefix="billing-soak-"))
        self.db = self.work / "soak.db"
        self.ref = self.work / "reference.db"
        self.stats: Counter[str] = Counter()

    # -- setup ------------------------------------------------------------------------------
    def build(self) -> None:
        ctx = Context(self.db, parse_time(month(0)))
        catalog.create_meter(ctx, display_name="Tokens", event_name="api_tokens",
                             aggregation="sum", meter_id="mtr_tokens")  # fmt: skip
        prices_api.create_price(ctx, product_name="API", currency="usd", unit_amount_decimal="0.04",
                             interval="month", usage_type="metered", meter="mtr_tokens",
                             price_id="price_tokens")  # fmt: skip
        prices_api.create_price(ctx, product_name="Seats", currency="usd", unit_amount=1500,
                             interval="month", usage_type="licensed",
                             price_id="price_seats")  # fmt: skip
        for i in range(self.args.customers):
            cid = f"cus_{i:03d}"
            catalog.create_customer(ctx, name=cid, customer_id=cid, invoice_prefix=f"S{i:03d}")
            prices = ["price_tokens", "price_seats:2"] if i % 4 == 0 else ["price_tokens"]
            subscriptions.create_subscription(ctx, customer=cid, prices=prices)
        shutil.copy(self.db, self.ref)

    def files(self, k: int) -> list[Path]:
        """Month k's rows: file a holds rows [0, 2n/3), file b rows [n/3, n), each with some
        hostile bad rows; every 10th row has no identifier (derived on import)."""
        n, first = self.args.rows, to_unix(parse_time(month(k)))
        rnd = random.Random(self.args.seed * 1_000 + k)
        rows = []
        for i in range(n):
            ident = "" if i % 10 == 0 else f"r{k}_{i}"
            ts = first + rnd.randrange(27 * 86_400)
            customer = f"cus_{rnd.randrange(self.args.customers):03d}"
            rows.append(f"api_tokens,{ident},{ts},{customer},{rnd.randrange(1, 10**6)}.{i % 9}")
        self.stats["rows generated"] += n
        out = []
        for name, chunk in (("a", rows[: 2 * n // 3]), ("b", rows[n // 3 :])):
            bad = []
            for j in range(rnd.randrange(1, 6)):
                cells = [
                    rnd.choice(["api_tokens", *HOSTILE_CELLS]),
                    f"bad{k}{name}{j}",
                    str(first),
                    rnd.choice(["cus_000", *HOSTILE_CELLS]),
                    rnd.choice(HOSTILE_CELLS),
                ]
                bad.append(",".join(c.replace(",", ";").replace("\x00", "") for c in cells))
            self.stats["hostile rows generated"] += len(bad)
            mixed = chunk + bad
            rnd.shuffle(mixed)
            path = self.work / f"m{k}{name}.csv"
            body = "event_name,identifier,timestamp,stripe_customer_id,value\n" + "\n".join(mixed)
            path.write_text(body + "\n", encoding="utf-8")
            out.append(path)
        return out

    # -- one round --------------------------------------------------------------------------
    def transitions(self) -> list[tuple[str, str]]:
        """Two status transitions for this round, on invoices finalized in earlier rounds
        (open in both ledgers): pay or mark-uncollectible, which move no balance, so their
        order against the concurrent run does not matter."""
        conn = sqlite3.connect(self.db)
        try:
            numbers = [r[0] for r in conn.execute(
                "SELECT number FROM invoices WHERE status = 'open' ORDER BY number"
            )]  # fmt: skip
        finally:
            conn.close()
        picked = self.rnd.sample(numbers, min(2, len(numbers)))
        return [(self.rnd.choice(["pay", "mark-uncollectible"]), n) for n in picked]

    def reference_round(self, k: int, files: list[Path], moves: list[tuple[str, str]]) -> None:
        ctx = Context(self.ref, parse_time(round_now(k)))
        for path in files:
            with open(path, "rb") as stream:
                import_events(ctx, stream, "csv")
        for action, number in moves:
            (invoices_api.pay if action == "pay" else invoices_api.mark_uncollectible)(ctx, number)
        invoices_api.run(ctx)

    def holds_write_lock(self) -> bool:
        conn = sqlite3.connect(self.db, timeout=0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return True
        finally:
            conn.close()
        return False

    def launch(self, commands: list[list[str]], now: str) -> list[subprocess.Popen[str]]:
        argv = [sys.executable, "-m", "billing_cli", "--db", str(self.db), "--now", now]
        procs = [
            subprocess.Popen([*argv, *c], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=environment())
            for c in commands
        ]  # fmt: skip
        self.stats["processes started"] += len(procs)
        return procs

    def kill_some(self, procs: list[subprocess.Popen[str]], labels: list[str]) -> set[int]:
        """Pick victims, wait for their moment, SIGKILL those still running."""
        victims = {i for i in range(len(procs)) if self.rnd.random() < self.args.kill_probability}
        if not victims:
            return set()
        if self.rnd.random() < 0.5:  # inside a transaction: after someone takes the lock
            deadline = time.monotonic() + 20
            while not self.holds_write_lock() and time.monotonic() < deadline:
                if all(p.poll() is not None for p in procs):
                    break
                time.sleep(0.002)
            time.sleep(self.rnd.uniform(0, 0.15))
        else:
            time.sleep(self.rnd.uniform(0, 1.2))
        locked = self.holds_write_lock()
        for i in sorted(victims):
            if procs[i].poll() is None:
                procs[i].send_signal(signal.SIGKILL)
                self.stats[f"kills: {labels[i]}"] += 1
                self.stats["kills while a writer held the lock"] += locked
            else:
                self.stats["kill targets that had already finished"] += 1
        return victims

    def soak_round(self, k: int, files: list[Path], moves: list[tuple[str, str]]) -> None:
        commands = [
            ["event", "import", str(files[0]), "--json"],
            ["invoice", "run", "--json"],
            ["event", "import", str(files[1]), "--json"],
            *(["invoice", action, number, "--json"] for action, number in moves),
        ]
        labels = ["import", "invoice run", "import", *(action for action, _ in moves)]
        was_killed: set[int] = set()
        backup = None
        if k % self.args.backup_every == 0:
            backup = self.work / f"backup{k}.db"
            commands.append(["ledger", "backup", str(backup), "--json"])
            labels.append("backup")
        pending = list(range(len(commands)))
        attempt = 0
        while pending:
            attempt += 1
            procs = self.launch([commands[i] for i in pending], round_now(k))
            if attempt <= 3:  # then let them finish: a round must end
                self.kill_some(procs, [labels[i] for i in pending])
            still = []
            killed = False
            for j, proc in enumerate(procs):
                out, err = proc.communicate(timeout=120)
                index = pending[j]
                if proc.returncode == -signal.SIGKILL:
                    killed = True
                    still.append(index)
                    was_killed.add(index)
                    if labels[index] == "backup":  # a killed backup leaves no file, or a whole one
                        self.stats["backups killed"] += 1
                        if backup is not None and backup.exists():
                            backup.unlink()
                    continue
                if "locked" in err or "Traceback" in err:
                    raise SystemExit(f"round {k}: {commands[index]} said:\n{err}")
                expected = (0, 7) if labels[index] == "import" else (0,)
                if index in was_killed and labels[index] in ("pay", "mark-uncollectible"):
                    expected = (0, 5)  # 5: the killed one had committed: already done
                if proc.returncode not in expected:
                    raise SystemExit(f"round {k}: {commands[index]} exit {proc.returncode}\n{err}")
                if labels[index] == "import":
                    summary = json.loads(out)
                    self.stats["rows accepted (by imports that completed)"] += summary["accepted"]
                    self.stats["rows reported duplicate"] += summary["duplicates"]
                    self.stats["rows rejected"] += summary["rejected"]
                self.stats[f"completed: {labels[index]}"] += 1
            if killed:
                self.stats["re-runs after kills"] += 1
            pending = still
        if backup is not None:
            report = check_ledger(Context(backup, parse_time(round_now(k))))
            if not report.ok:
                raise SystemExit(f"round {k}: the backup fails ledger check: {report.problems}")
            self.stats["backups taken under load and checked"] += 1
            backup.unlink()

    def quick_compare(self, k: int) -> None:
        """Cheap checks after each round (the full comparison runs at the end)."""
        first, last = to_unix(parse_time(month(k))), to_unix(parse_time(month(k + 1)))
        queries = [
            # every accepted value is `digits.digit`: an exact integer sum in SQL
            "SELECT count(*), sum(CAST(replace(value, '.', '') AS INTEGER)) FROM meter_events",
            f"SELECT meter, customer, hour, count, sum FROM usage_hourly WHERE hour >= {first}"
            f" AND hour < {last} ORDER BY meter, customer, hour",
            "SELECT count(*), sum(count) FROM usage_hourly",
            # drafts of month k were computed while its events arrived: only finalized ones
            "SELECT customer, period_start, billing_reason, status, number, total, amount_due"
            " FROM invoices WHERE status <> 'draft' ORDER BY customer, period_start,"
            " billing_reason",
            "SELECT count(*) FROM invoices",
            "SELECT id, balance, next_invoice_sequence FROM customers ORDER BY id",
            "SELECT count(*) FROM invoice_chain",
        ]
        for sql in queries:
            got, want = self.rows(self.db, sql), self.rows(self.ref, sql)
            if got != want:
                raise SystemExit(f"round {k}: {sql}\n soak {got[:5]}\n reference {want[:5]}")

    @staticmethod
    def rows(db: Path, sql: str) -> list[tuple]:
        conn = sqlite3.connect(db)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    # -- the whole run ----------------------------------------------------------------------
    def run(self) -> None:
        started = time.monotonic()
        self.build()
        k = 0
        while time.monotonic() - started < self.args.seconds:
            files = self.files(k)
            moves = self.transitions()
            self.stats["status transitions"] += len(moves)
            self.reference_round(k, files, moves)
            self.soak_round(k, files, moves)
            self.quick_compare(k)
            for path in files:
                path.unlink()
            k += 1
            if k % 10 == 0:
                print(f"  round {k}: {time.monotonic() - started:.0f} s", flush=True)
        end = month(k).replace("T00:00", "T02:00")
        invoices_api.run(Context(self.ref, parse_time(end)))
        procs = self.launch([["invoice", "run", "--json"]], end)
        out, err = procs[0].communicate(timeout=600)
        assert procs[0].returncode == 0, err
        elapsed = time.monotonic() - started
        got, want = ledger_state(self.db), ledger_state(self.ref)
        same = {part: got[part] == want[part] for part in want}
        report = check_ledger(Context(self.db, parse_time(end)))
        self.report(k, elapsed, got, same, report.ok and gapless(got))

    def report(self, rounds: int, elapsed: float, got: dict, same: dict, ok: bool) -> None:
        a = self.args
        print(
            f"soak: {rounds} rounds in {elapsed:.0f} s ({a.customers} customers, {a.rows:,}"
            f" unique rows per round, kill probability {a.kill_probability}, seed {a.seed})"
        )
        for key in sorted(self.stats):
            print(f"  {key}: {self.stats[key]:,}")
        print(f"  events stored: {len(got['events']):,} (expected {rounds * a.rows:,});"
              f" invoices: {len(got['invoices']):,}; invoice chain rows:"
              f" {len(got['invoice_chain']):,}")  # fmt: skip
        for part, equal in same.items():
            print(f"  {part}: {'equal to' if equal else 'DIFFERENT FROM'} the serial reference")
        print(f"  ledger check and gapless numbers: {'ok' if ok else 'FAILED'}")
        lost = len(got["events"]) != rounds * a.rows or not all(same.values()) or not ok
        print("nothing lost, nothing doubled" if not lost else "MISMATCH: see above")
        if not lost:
            shutil.rmtree(self.work)
        else:
            print(f"ledgers kept in {self.work}")
            raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=150.0)
    parser.add_argument("--rows", type=int, default=6_000, help="unique rows per round")
    parser.add_argument("--customers", type=int, default=60)
    parser.add_argument("--kill-probability", type=float, default=0.3)
    parser.add_argument("--backup-every", type=int, default=5)
    parser.add_argument("--seed", type=int, default=int(os.environ.get("SOAK_SEED", "1")))
    soak = Soak(parser.parse_args())
    try:
        soak.run()
    except SystemExit as exc:
        if exc.code not in (None, 0):
            print(f"ledgers and inputs kept in {soak.work}", file=sys.stderr)
        raise


if __name__ == "__main__":
    main()
