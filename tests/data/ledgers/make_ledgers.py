"""Build the checked-in ledgers of older schema versions (tests/test_old_ledgers.py opens them).

    PYTHONPATH=. python tests/data/ledgers/make_ledgers.py tests/data/ledgers

Run once, with the program as it was at the last schema version 4 (commit fc6b443), and the
resulting files checked in: they are what an older billing_cli left on disk, so they must never
be regenerated with a newer program. `schema4.db` is the ledger that program wrote for the
storyline below; `schema3.db`, `schema2.db` and `schema1.db` are the same ledger with what
migrations 4, 3 and 2 added taken out again (the invoice chain; the event watermark; the
append-only triggers), `user_version` lowered to match: the rows are those programs' rows,
since those migrations changed no row format.

`schema5.db` to `schema8.db` are the storyline run by the programs at schema 5 (commit
6f43440), 6 (the documents issue's seller-profile commit), 7 (commit 2b8fc4a) and 8 (commit
e6446ef, before the catalog chain) with `build_schema4`, then `journal_mode = DELETE` and
VACUUM: what those programs left on disk. `schema9.db` the same, by the program at schema 9
(commit aa370ee, before billing credits' migration 10).

The storyline touches every table and writes the decimal text an older program stored as
given: event values `+007.50`, `0.50`, `1.000`; a unit price `0.0000001` (stored `1E-7`); tiers
`0.50` (stored `0.50`). Every kind of row is there: metered, tiered, transformed and licensed
prices; raw and hourly meters; sent, imported, cancelled and late events; finalized, paid and
draft invoices; a resolved late-usage line.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
from pathlib import Path

from typer.testing import CliRunner

from billing_cli.cli import app

EVENTS_CSV = """event_name,identifier,timestamp,stripe_customer_id,value
api_tokens,imp1,2026-11-02T10:00:00Z,cus_max,+007.50
api_tokens,imp2,2026-11-02T10:30:00Z,cus_max,0.50
api_tokens,imp3,2026-11-03T11:00:00Z,cus_ida,1.000
api_tokens,,2026-11-04T12:00:00Z,cus_ida,2500
calls,call1,2026-11-05T09:00:00Z,cus_max,
calls,call2,2026-11-05T09:10:00Z,cus_max,
"""


def _run(db: Path, now: str, *args: str, stdin: str | None = None) -> str:
    result = CliRunner().invoke(
        app, ["--db", str(db), "--now", now, *args], input=stdin, catch_exceptions=False
    )
    if result.exit_code != 0:
        raise SystemExit(f"{args}: exit {result.exit_code}: {result.stderr}")
    return result.stdout


def build_schema4(db: Path) -> None:
    start = "2026-11-01T00:00:00Z"
    run = lambda *a, now=start, stdin=None: _run(db, now, *a, stdin=stdin)  # noqa: E731
    run(
        "meter",
        "create",
        "--id",
        "mtr_tokens",
        "--display-name",
        "Tokens",
        "--event-name",
        "api_tokens",
        "--aggregation",
        "sum",
    )
    run(
        "meter",
        "create",
        "--id",
        "mtr_calls",
        "--display-name",
        "Calls",
        "--event-name",
        "calls",
        "--aggregation",
        "count",
    )
    run(
        "meter",
        "create",
        "--id",
        "mtr_gpu",
        "--display-name",
        "GPU",
        "--event-name",
        "gpu",
        "--aggregation",
        "last",
        "--event-time-window",
        "hour",
    )
    run(
        "price",
        "create",
        "--id",
        "price_tokens",
        "--product-name",
        "Tokens",
        "--currency",
        "usd",
        "--unit-amount-decimal",
        "0.0000001",
        "--interval",
        "month",
        "--usage-type",
        "metered",
        "--meter",
        "mtr_tokens",
    )
    run(
        "price",
        "create",
        "--id",
        "price_calls",
        "--product-name",
        "Calls",
        "--currency",
        "usd",
        "--billing-scheme",
        "tiered",
        "--tiers-mode",
        "graduated",
        "--tier",
        "up_to=1,unit_amount_decimal=0.50,flat_amount=100",
        "--tier",
        "up_to=inf,unit_amount_decimal=2.250",
        "--interval",
        "month",
        "--usage-type",
        "metered",
        "--meter",
        "mtr_calls",
    )
    run(
        "price",
        "create",
        "--id",
        "price_gpu",
        "--product-name",
        "GPU",
        "--currency",
        "usd",
        "--unit-amount",
        "7",
        "--transform-divide-by",
        "10",
        "--transform-round",
        "up",
        "--interval",
        "month",
        "--usage-type",
        "metered",
        "--meter",
        "mtr_gpu",
    )
    run(
        "price",
        "create",
        "--id",
        "price_seats",
        "--product-name",
        "Seats",
        "--currency",
        "usd",
        "--unit-amount-decimal",
        "1500.50",
        "--interval",
        "month",
        "--usage-type",
        "licensed",
    )
    for cus, prefix in (("cus_max", "MAX"), ("cus_ida", "IDA")):
        run("customer", "create", "--id", cus, "--name", cus, "--invoice-prefix", prefix)
    run(
        "subscription",
        "create",
        "--customer",
        "cus_max",
        "--price",
        "price_tokens",
        "--price",
        "price_calls",
        "--price",
        "price_gpu",
        "--price",
        "price_seats:2",
    )
    run("subscription", "create", "--customer", "cus_ida", "--price", "price_tokens")
    nov = "2026-11-06T00:00:00Z"
    run("event", "import", "-", "--format", "csv", now=nov, stdin=EVENTS_CSV)
    for ident, ts, value in (
        ("g1", "2026-11-02T10:05:00Z", "003.0"),
        ("g2", "2026-11-02T10:50:00Z", "12"),
    ):
        run(
            "event",
            "send",
            "--event-name",
            "gpu",
            "--customer",
            "cus_max",
            "--value",
            value,
            "--identifier",
            ident,
            "--timestamp",
            ts,
            now=nov,
        )
    run(
        "event",
        "send",
        "--event-name",
        "api_tokens",
        "--customer",
        "cus_max",
        "--value",
        "99.9900",
        "--identifier",
        "wrong",
        "--timestamp",
        "2026-11-05T00:00:00Z",
        now=nov,
    )
    run("event", "cancel", "--event-name", "api_tokens", "--identifier", "wrong", now=nov)
    run("invoice", "run", now="2026-12-01T02:00:00Z")  # November finalized (1 h grace)
    # Since issue 15.10 an invoice with amount due 0 (IDA-0001) is paid as it is finalized;
    # the program that wrote the checked-in ledgers left it open, and this step paid it.
    if json.loads(run("invoice", "show", "IDA-0001", "--json"))["status"] == "open":
        run("invoice", "pay", "IDA-0001", now="2026-12-02T00:00:00Z")
    run(
        "event",
        "send",
        "--event-name",
        "api_tokens",
        "--customer",
        "cus_max",
        "--value",
        "0010.25",
        "--identifier",
        "late1",
        "--timestamp",
        "2026-11-20T00:00:00Z",
        now="2026-12-03T00:00:00Z",
    )
    run("event", "late", "--resolve", "next-invoice", now="2026-12-03T00:00:00Z")
    run(
        "event",
        "send",
        "--event-name",
        "api_tokens",
        "--customer",
        "cus_ida",
        "--value",
        "5.50",
        "--identifier",
        "dec1",
        "--timestamp",
        "2026-12-04T00:00:00Z",
        now="2026-12-05T00:00:00Z",
    )
    run("invoice", "run", now="2027-01-01T02:00:00Z")  # December finalized, late line included
    run("invoice", "run", "--grace", "72h", now="2027-02-01T00:30:00Z")  # January: drafts


def strip_to(src: Path, dst: Path, version: int) -> None:
    """The ledger as it stood before migrations `version + 1 …` (see the module docstring)."""
    shutil.copy(src, dst)
    conn = sqlite3.connect(dst, isolation_level=None)
    try:
        if version < 4:
            conn.execute("DROP TABLE invoice_chain")  # its triggers go with it
        if version < 3:
            conn.execute("DROP TABLE event_watermark")
        if version < 2:
            names = conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            for (name,) in names.fetchall():
                conn.execute(f"DROP TRIGGER {name}")
        conn.execute(f"PRAGMA user_version = {version}")
        conn.execute("VACUUM")
        conn.execute("PRAGMA journal_mode = DELETE")
    finally:
        conn.close()


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    top = out / "schema4.db"
    for path in out.glob("schema*.db*"):
        path.unlink()
    build_schema4(top)
    conn = sqlite3.connect(top, isolation_level=None)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 4
    conn.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no -wal
    conn.close()
    for version in (3, 2, 1):
        strip_to(top, out / f"schema{version}.db", version)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
