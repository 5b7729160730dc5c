"""Two `event import`s of overlapping files and an `invoice run`, as real processes on one
ledger file at once, round after round (SPEC 6, the "Trust" issue): the end state equals a
serial run of the same commands, and "database is locked" never reaches the user.

Each round k plays one month: the imports bring month k's usage (two files sharing half their
rows, a few bad rows in each, every 10th row without an identifier), received at 00:30 on the
1st of month k+1; the run at that moment creates month k's drafts (inside their 1 h grace) and
finalizes month k-1's. So every interleaving must end in the same invoices as the serial order.

On both backends (issue 13.4): on PostgreSQL the processes race on one database, each batch
merged with ON CONFLICT DO NOTHING and each invoice run's drafts with the invoice-run UNIQUE key.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from billing_cli.api import Context
from billing_cli.api import invoices as invoices_api
from billing_cli.api.event_import import import_events
from billing_cli.api.ledger_check import check_ledger
from billing_cli.clock import parse_time, to_unix
from tests.backends import copy_location, new_location
from tests.trust_state import build_catalog, gapless, ledger_state, start

pytestmark = pytest.mark.both_backends

CUSTOMERS = 12
ROUNDS = 5
ROWS = 2_000  # unique rows per round; each file holds 1,500 of them (+ 3 bad rows)
BAD_PER_FILE = 3
START = "2026-01-01T00:00:00Z"


def month(k: int) -> str:
    """The first instant of month k (k = 0: January 2026)."""
    return f"{2026 + k // 12}-{k % 12 + 1:02d}-01T00:00:00Z"


def round_now(k: int) -> str:
    return month(k + 1).replace("T00:00", "T00:30")


def round_files(root: Path, k: int) -> tuple[Path, Path]:
    """Rows 0..1,499 and 500..1,999 of month k's stream (deterministic), each with bad rows."""
    rnd = random.Random(k)
    first, span = to_unix(parse_time(month(k))), 27 * 86_400
    rows = []
    for n in range(ROWS):
        ident = "" if n % 10 == 0 else f"r{k}_{n}"
        ts = first + rnd.randrange(span)
        rows.append(f"api_tokens,{ident},{ts},cus_{rnd.randrange(CUSTOMERS):02d},{n % 50}.{n % 7}")
    files = []
    for name, chunk in (("a", rows[:1_500]), ("b", rows[500:])):
        bad = [f"api_tokens,bad_{k}{name}{i},{first},cus_nobody,1" for i in range(BAD_PER_FILE)]
        path = root / f"round{k}{name}.csv"
        body = ["event_name,identifier,timestamp,stripe_customer_id,value", *chunk, *bad]
        path.write_text("\n".join(body) + "\n")
        files.append(path)
    return files[0], files[1]


@pytest.fixture
def setup(backend: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    root = request.getfixturevalue("tmp_path_factory").mktemp("concurrency")
    template = new_location(request, template=True)
    ctx = Context(template, parse_time(START))
    build_catalog(ctx, CUSTOMERS, unit_amount_decimal="0.4", seat_amount=1500, seats=2)
    for k in range(ROUNDS):
        round_files(root, k)
    return {"root": root, "template": template, "request": request}


def serial(setup: dict[str, Any]) -> Path | str:
    """The reference: the same commands one after another, in-process."""
    db = copy_location(setup["template"], setup["request"])
    for k in range(ROUNDS):
        ctx = Context(db, parse_time(round_now(k)))
        for source in round_files(setup["root"], k):
            with open(source, "rb") as stream:
                import_events(ctx, stream, "csv")
        invoices_api.run(ctx)
    invoices_api.run(Context(db, parse_time(month(ROUNDS).replace("T00:00", "T02:00"))))
    return db


def test_two_imports_and_a_run_at_once_equal_a_serial_run(setup: dict[str, Any]) -> None:
    db = copy_location(setup["template"], setup["request"])
    accepted = duplicates = 0
    for k in range(ROUNDS):
        first, second = round_files(setup["root"], k)
        procs = [
            start(db, round_now(k), "event", "import", str(first), "--json"),
            start(db, round_now(k), "invoice", "run", "--json"),
            start(db, round_now(k), "event", "import", str(second), "--json"),
        ]
        outs = [p.communicate(timeout=60) for p in procs]
        for out, err in outs:
            assert "locked" not in err and "Traceback" not in err, err
            assert out.strip(), err  # every command printed its JSON
        assert [p.returncode for p in procs] == [7, 0, 7], outs  # 7: the bad rows, reported
        ran = json.loads(outs[1][0])
        assert len(ran["created"]) == CUSTOMERS  # month k's drafts
        assert len(ran["finalized"]) == (CUSTOMERS if k else 0)  # month k-1's invoices
        for out, _ in (outs[0], outs[2]):
            summary = json.loads(out)
            assert summary["rejected"] == BAD_PER_FILE
            accepted += summary["accepted"]
            duplicates += summary["duplicates"]
    final = start(db, month(ROUNDS).replace("T00:00", "T02:00"), "invoice", "run", "--json")
    out, err = final.communicate(timeout=60)
    assert final.returncode == 0, err
    # Nothing lost, nothing counted twice: each round's 2,000 rows stored once; the 1,000 rows
    # both files hold were accepted by one import and reported as duplicates by the other.
    assert (accepted, duplicates) == (ROUNDS * ROWS, ROUNDS * 1_000)
    got, want = ledger_state(db), ledger_state(serial(setup))
    assert len(got["events"]) == ROUNDS * ROWS
    assert len(got["invoices"]) == len(want["invoices"]) == CUSTOMERS * ROUNDS + CUSTOMERS // 3
    for part in want:
        assert got[part] == want[part], part
    assert gapless(got)
    assert check_ledger(Context(db, parse_time(month(ROUNDS)))).ok
