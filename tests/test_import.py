"""`billing event import` (SPEC 2.5) through the command line: good rows kept, bad rows reported
with their line and reason, re-imports add nothing, stdin, reject files, dry runs, and random
input that never shows a traceback."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest

from billing_cli.storage.sqlite import Ledger
from tests.conftest import NOW_TS, Billing, assert_error, snapshot

TS = NOW_TS - 3600  # an hour before --now

MIXED = (
    "event_name,identifier,timestamp,stripe_customer_id,value\n"  # 1
    f"api_tokens,g1,{TS},cus_alpaca,100\n"  # 2
    f"nope,b1,{TS},cus_alpaca,1\n"  # 3: unknown meter
    f"api_tokens,b2,{TS},cus_nobody,1\n"  # 4: unknown customer
    f"api_tokens,b3,{TS},cus_alpaca,\n"  # 5: missing value
    f"api_tokens,b4,{TS},cus_alpaca,12abc\n"  # 6: malformed value
    f"api_tokens,b5,{TS},cus_alpaca,1234567890.123456\n"  # 7: 16 significant digits
    f"api_tokens,b6,{NOW_TS + 301},cus_alpaca,1\n"  # 8: more than 5 minutes ahead
    f"api_tokens,b7,{TS},cus_alpaca\n"  # 9: a column short
    f"api_tokens,b8,{TS},cus_\xff,1\n"  # 10: invalid UTF-8 (see below)
    f"api_tokens,g2,{TS + 1},cus_alpaca,0.5\n"  # 11
    f"api_tokens,,{TS + 2},cus_alpaca,7\n"  # 12: no identifier: a derived one
    f"api_tokens,g3,{NOW_TS + 300},cus_alpaca,-2\n"  # 13: exactly 5 minutes ahead is fine
).encode("latin-1")
MIXED_REJECTS = [
    (3, "b1", "no_meter"),
    (4, "b2", "meter_event_customer_not_found"),
    (5, "b3", "meter_event_value_not_found"),
    (6, "b4", "meter_event_invalid_value"),
    (7, "b5", "meter_event_invalid_value"),
    (8, "b6", "timestamp_in_future"),
    (9, "-", "wrong_column_count"),
    (10, "-", "invalid_utf8"),
]


def run_import(billing: Billing, source: str, *args: str, input: bytes | None = None):
    return billing("event", "import", source, *args, input=input)


def summary_of(result) -> dict:
    return json.loads(result.stdout)


def reject_lines(stderr: str) -> list[tuple[int, str, str]]:
    out = []
    for line in stderr.splitlines():
        if line.startswith("line "):
            where, ident, rest = line.split(" ", 2)[1], line.split(" ")[2], line.split(" ")[3]
            out.append((int(where.rstrip(":")), ident, rest.rstrip(":")))
    return out


def stored(db: Path) -> dict[str, tuple[int, str | None, str]]:
    led = Ledger(db, create=False)
    try:
        assert led.verify_event_chain() is None
        assert led.verify_rollups() is None
        rows = led.conn.execute("SELECT identifier, timestamp, value, status FROM meter_events")
        return {r[0]: (r[1], r[2], r[3]) for r in rows}
    finally:
        led.close()


def test_mixed_file_keeps_good_rows_and_reports_each_bad_one(alpaca: Billing, tmp_path: Path):
    src = tmp_path / "events.csv"
    src.write_bytes(MIXED)
    result = run_import(alpaca, str(src), "--json")
    assert result.exit_code == 7, result.stderr
    assert summary_of(result) == {"read": 12, "accepted": 4, "duplicates": 0, "rejected": 8,
                                  "late": 0, "derived_identifiers": 1}  # fmt: skip
    assert reject_lines(result.stderr) == MIXED_REJECTS
    assert "read 12, accepted 4, duplicates 0, rejected 8, late 0, derived identifiers 1" in (
        result.stderr
    )
    assert "error: 8 of 12 rows were rejected" in result.stderr
    assert "Traceback" not in result.stderr
    events = stored(alpaca.db)
    assert {k: v[1] for k, v in events.items() if not k.startswith("row_")} == {
        "g1": "100", "g2": "0.5", "g3": "-2"
    }  # fmt: skip
    assert [v[1] for k, v in events.items() if k.startswith("row_")] == ["7"]

    again = run_import(alpaca, str(src), "--json")
    assert again.exit_code == 7
    assert summary_of(again) == {"read": 12, "accepted": 0, "duplicates": 4, "rejected": 8,
                                 "late": 0, "derived_identifiers": 1}  # fmt: skip
    assert stored(alpaca.db) == events


def test_clean_file_exits_0_and_the_summary_goes_to_stderr(alpaca: Billing, tmp_path: Path):
    src = tmp_path / "ok.jsonl"
    src.write_text(
        json.dumps({"event_name": "api_tokens", "identifier": "j1", "timestamp": TS,
                    "payload": {"stripe_customer_id": "cus_alpaca", "value": "1"}}) + "\n"
    )  # fmt: skip
    result = run_import(alpaca, str(src))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.strip() == (
        "read 1, accepted 1, duplicates 0, rejected 0, late 0, derived identifiers 0"
    )


def test_identical_rows_without_identifiers_are_counted_not_merged(alpaca: Billing, tmp_path):
    src = tmp_path / "same.csv"
    src.write_text("event_name,stripe_customer_id,value\n" + "api_tokens,cus_alpaca,1\n" * 3)
    first = summary_of(run_import(alpaca, str(src), "--json"))
    assert (first["accepted"], first["derived_identifiers"]) == (3, 3)
    second = summary_of(run_import(alpaca, str(src), "--json"))
    assert (second["accepted"], second["duplicates"]) == (0, 3)
    events = stored(alpaca.db)
    assert len(events) == 3 and {v[0] for v in events.values()} == {NOW_TS}


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_stdin_in_both_formats(alpaca: Billing, fmt: str) -> None:
    if fmt == "csv":
        data = "event_name,identifier,timestamp,stripe_customer_id,value\n"
        data += f"api_tokens,s1,{TS},cus_alpaca,2\n"
    else:
        data = (
            json.dumps(
                {
                    "event_name": "api_tokens",
                    "identifier": "s1",
                    "timestamp": TS,
                    "payload": {"stripe_customer_id": "cus_alpaca", "value": 2},
                }
            )
            + "\n"
        )
    result = run_import(alpaca, "-", "--format", fmt, "--json", input=data.encode())
    assert summary_of(result)["accepted"] == 1, result.stderr
    assert stored(alpaca.db)["s1"] == (TS, "2", "accepted")
    assert_error(run_import(alpaca, "-", input=data.encode()), 2, "--format")


def test_format_and_source_errors(alpaca: Billing, tmp_path: Path) -> None:
    assert_error(run_import(alpaca, str(tmp_path / "x.txt")), 2, "x.txt")
    assert_error(run_import(alpaca, str(tmp_path / "missing.csv")), 4, "missing.csv")
    assert_error(run_import(alpaca, "-", "--format", "xml", input=b""), 2, "xml")
    bad = tmp_path / "bad.csv"
    bad.write_text("stripe_customer_id,value\ncus_alpaca,1\n")
    assert_error(run_import(alpaca, str(bad)), 4, "event_name")
    ndjson = tmp_path / "x.NDJSON"
    ndjson.write_text("")
    assert run_import(alpaca, str(ndjson)).exit_code == 0


def test_json_numbers_keep_their_literal_text(alpaca: Billing, tmp_path: Path) -> None:
    src = tmp_path / "n.jsonl"
    numbers = [("n1", "0.1"), ("n2", "1E3"), ("n3", "12345678901234567")]
    src.write_text("".join(
        f'{{"event_name":"api_tokens","identifier":"{ident}","timestamp":{TS},'
        f'"payload":{{"stripe_customer_id":"cus_alpaca","value":{number}}}}}\n'
        for ident, number in numbers
    ))  # fmt: skip
    result = run_import(alpaca, str(src), "--json")
    assert result.exit_code == 7
    assert stored(alpaca.db)["n1"][1] == "0.1"
    assert [r[2] for r in reject_lines(result.stderr)] == ["meter_event_invalid_value"] * 2


def test_reject_file_can_be_fixed_and_reimported_csv(alpaca: Billing, tmp_path: Path) -> None:
    src, rejects = tmp_path / "events.csv", tmp_path / "rejects.csv"
    src.write_bytes(MIXED)
    run_import(alpaca, str(src), "--reject-file", str(rejects))
    rows = list(csv.DictReader(io.StringIO(rejects.read_text(encoding="utf-8"))))
    assert list(rows[0]) == ["event_name", "identifier", "timestamp", "stripe_customer_id",
                             "value", "_line", "_error", "_raw"]  # fmt: skip
    assert [(int(r["_line"]), r["_error"].split(":")[0]) for r in rows] == [
        (line, code) for line, _, code in MIXED_REJECTS
    ]
    broken = {int(r["_line"]): r for r in rows}
    assert broken[10]["_raw"] == f"api_tokens,b8,{TS},cus_\ufffd,1"
    assert broken[9]["_raw"] and broken[9]["event_name"] == ""
    # Fix the fixable: the customer, the values, the timestamp, the short row; drop the rest.
    fixed = [r for r in rows if r["identifier"] in {"b2", "b3", "b4", "b5", "b6"}]
    for r in fixed:
        r.update(stripe_customer_id="cus_alpaca", value="1", timestamp=str(TS))
    fixed.append({"event_name": "api_tokens", "identifier": "b7", "timestamp": str(TS),
                  "stripe_customer_id": "cus_alpaca", "value": "3", "_line": "9",
                  "_error": "x", "_raw": "api_tokens,b7,…"})  # fmt: skip
    with rejects.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(fixed)
    again = run_import(alpaca, str(rejects), "--json")
    assert again.exit_code == 0, again.stderr
    assert summary_of(again)["accepted"] == 6
    events = stored(alpaca.db)
    assert {"b2", "b3", "b4", "b5", "b6", "b7"} <= set(events)
    led = Ledger(alpaca.db, create=False)
    try:
        payloads = [json.loads(r[0]) for r in led.conn.execute("SELECT payload FROM meter_events")]
    finally:
        led.close()
    assert all(set(p) == {"stripe_customer_id", "value"} for p in payloads)  # no _line/_error


def test_reject_file_jsonl_keeps_the_original_text(alpaca: Billing, tmp_path: Path) -> None:
    src, rejects = tmp_path / "in.jsonl", tmp_path / "rejects.jsonl"
    src.write_bytes(
        b'{"event_name":"api_tokens","identifier":"x1","timestamp":%d,'
        b'"payload":{"stripe_customer_id":"cus_nobody","value":1.50}}\n'
        b"{not json\n"
        b'{"event_name":"api_tokens","payload":{"stripe_customer_id":"cus_alpaca","value":"\xff"}}\n'
        % TS
    )
    result = run_import(alpaca, str(src), "--reject-file", str(rejects))
    assert result.exit_code == 7
    lines = [json.loads(line) for line in rejects.read_text(encoding="utf-8").splitlines()]
    assert lines[0]["payload"]["value"] == 1.5 and lines[0]["_line"] == 1
    assert '"value":1.50' in rejects.read_text()  # the number's literal text, not a float
    assert lines[0]["_error"].startswith("meter_event_customer_not_found: ")
    assert lines[1] == {"_raw": "{not json", "_line": 2, "_error": lines[1]["_error"]}
    assert lines[2]["_raw"].endswith('"\ufffd"}}') and lines[2]["_error"].startswith("invalid_utf8")
    # Fix the customer and import the reject file as it is: _line/_error are ignored.
    fixed = rejects.read_text().splitlines()[0].replace("cus_nobody", "cus_alpaca")
    rejects.write_text(fixed + "\n")
    assert run_import(alpaca, str(rejects)).exit_code == 0
    assert stored(alpaca.db)["x1"] == (TS, "1.5", "accepted")  # canonical; the payload keeps "1.50"


def test_many_rejects_are_listed_up_to_a_cap(alpaca: Billing, tmp_path: Path) -> None:
    src = tmp_path / "bad.csv"
    src.write_text("event_name,stripe_customer_id,value\n" + "api_tokens,cus_nobody,1\n" * 25)
    result = run_import(alpaca, str(src))
    assert result.exit_code == 7
    assert len(reject_lines(result.stderr)) == 20
    assert "… and 5 more" in result.stderr


def test_dry_run_writes_nothing_and_reports_what_the_import_would(alpaca: Billing, tmp_path):
    src = tmp_path / "events.csv"
    src.write_bytes(MIXED + f"api_tokens,g1,{TS},cus_alpaca,100\n".encode())  # g1 twice
    before = snapshot(alpaca.db)
    dry = run_import(alpaca, str(src), "--dry-run", "--json")
    assert snapshot(alpaca.db) == before
    assert dry.exit_code == 7 and "dry run" in dry.stderr and "would be rejected" in dry.stderr
    real = run_import(alpaca, str(src), "--json")
    assert summary_of(dry) == summary_of(real) == {
        "read": 13, "accepted": 4, "duplicates": 1, "rejected": 8, "late": 0,
        "derived_identifiers": 1,
    }  # fmt: skip
    after = snapshot(alpaca.db)
    again = run_import(alpaca, str(src), "--dry-run", "--json")
    assert summary_of(again)["duplicates"] == 5 and snapshot(alpaca.db) == after


def test_import_without_a_ledger_rejects_everything_and_creates_nothing(billing, tmp_path):
    src = tmp_path / "e.csv"
    src.write_text("event_name,stripe_customer_id,value\napi_tokens,cus_a,1\n")
    result = run_import(billing, str(src), "--json")
    assert result.exit_code == 7 and summary_of(result)["rejected"] == 1
    assert not billing.db.exists()


def test_late_rows_are_counted(alpaca: Billing, tmp_path: Path) -> None:
    conn = sqlite3.connect(alpaca.db)
    with conn:
        conn.execute(
            "INSERT INTO invoices (id, created, customer, status, billing_reason, currency,"
            " period_start, period_end, subtotal, total, amount_due, computed_at) VALUES"
            " ('in_1', 0, 'cus_alpaca', 'draft', 'subscription_cycle', 'usd', ?, ?, 0, 0, 0, 0)",
            (TS - 100, TS + 100),
        )
        conn.execute(
            "INSERT INTO invoice_lines (id, invoice, position, type, meter, description,"
            " period_start, period_end, quantity_decimal, quantity, amount, explain) VALUES"
            " ('il_1', 'in_1', 0, 'subscription', 'mtr_tokens', 'x', ?, ?, '0', 0, 0, '{}')",
            (TS - 100, TS + 100),
        )
        conn.execute("UPDATE invoices SET status = 'open', finalized_at = 0 WHERE id = 'in_1'")
    conn.close()
    src = tmp_path / "e.csv"
    src.write_text(
        f"event_name,timestamp,stripe_customer_id,value\n"
        f"api_tokens,{TS},cus_alpaca,1\napi_tokens,{TS + 100},cus_alpaca,1\n"
    )
    result = run_import(alpaca, str(src), "--json")
    assert summary_of(result) == {"read": 2, "accepted": 2, "duplicates": 0, "rejected": 0,
                                  "late": 1, "derived_identifiers": 2}  # fmt: skip
    assert sorted(v[2] for v in stored(alpaca.db).values()) == ["accepted", "late"]


def test_rejects_are_flushed_in_batches_too(alpaca: Billing, tmp_path: Path) -> None:
    """A file of bad rows holds at most a batch of them in memory: they are reported as they
    come, batch by batch, like good rows are committed."""
    from billing_cli.api import Context
    from billing_cli.api.event_import import import_events
    from billing_cli.clock import from_unix

    data = b"event_name,stripe_customer_id,value\n" + b"api_tokens,cus_nobody,1\n" * 10
    seen: list[tuple[int, int]] = []
    summary = import_events(
        Context(alpaca.db, from_unix(NOW_TS)),
        io.BytesIO(data),
        "csv",
        on_reject=lambda r: seen.append((r.line, len(seen))),
        on_progress=lambda s: seen.append((-1, s.rejected)),
        batch_size=3,
    )
    assert summary.rejected == 10 and summary.read == 10
    assert [n for line, n in seen if line == -1] == [3, 6, 9, 10]
