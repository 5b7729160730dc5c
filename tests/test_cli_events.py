"""`billing event send|list|cancel` and `billing meter usage`: the command-line contract (SPEC 2,
5): shapes on stdout, notes and errors on stderr, exit codes."""

from __future__ import annotations

import pytest

from tests.conftest import NOW_TS, Billing, assert_error, json_of, ledger_exists, snapshot

T = "2026-10-31T10:15:00Z"  # a past time inside a UTC hour
T_TS = NOW_TS - 22 * 3600 - 45 * 60

pytestmark = pytest.mark.both_backends


def send(billing: Billing, *args: str):
    return billing("event", "send", "--event-name", "api_tokens", *args)


def test_send_prints_stripes_meter_event_and_status(alpaca: Billing) -> None:
    result = send(alpaca, "--customer", "cus_alpaca", "--value", "4275", "--identifier", "r1",
                  "--timestamp", T, "--json")  # fmt: skip
    event = json_of(result)
    assert event == {
        "object": "billing.meter_event",
        "created": NOW_TS,
        "event_name": "api_tokens",
        "identifier": "r1",
        "livemode": False,
        "payload": {"stripe_customer_id": "cus_alpaca", "value": "4275"},
        "timestamp": T_TS,
        "billing_cli": {"status": "accepted", "cancelled": False},
    }
    assert result.stderr == ""


def test_send_with_payload_pairs_and_a_table(alpaca: Billing) -> None:
    result = send(alpaca, "--payload", "stripe_customer_id=cus_alpaca", "--payload", "value=1.5",
                  "--payload", "model=llama")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert not result.stdout.startswith("{") and "llama" in result.stdout  # a table
    listed = alpaca.json("event", "list")["data"]
    assert listed[0]["payload"]["model"] == "llama"
    assert listed[0]["identifier"].startswith("evt_")


def test_duplicate_is_exit_0_and_said_on_stderr_conflict_is_exit_5(alpaca: Billing, db) -> None:
    args = ("--customer", "cus_alpaca", "--value", "3", "--identifier", "d1", "--timestamp", T)
    json_of(send(alpaca, *args, "--json"))
    again = send(alpaca, *args, "--json")
    assert again.exit_code == 0 and "duplicate" in again.stderr
    assert json_of(again)["identifier"] == "d1"
    before = snapshot(db)
    conflict = send(alpaca, "--customer", "cus_alpaca", "--value", "4", "--identifier", "d1",
                    "--timestamp", T)  # fmt: skip
    assert_error(conflict, 5, "identifier_conflict", "d1")
    assert snapshot(db) == before


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (("--customer", "cus_nobody", "--value", "1"), 4, "meter_event_customer_not_found"),
        (("--customer", "cus_alpaca", "--value", "1.0e3"), 4, "meter_event_invalid_value"),
        (("--customer", "cus_alpaca", "--value", "0.30000000000000004"), 4,
         "meter_event_invalid_value"),
        (("--customer", "cus_alpaca"), 4, "meter_event_value_not_found"),
        (("--payload", "value=1"), 4, "meter_event_no_customer_defined"),
        (("--customer", "cus_alpaca", "--value", "1", "--timestamp", "2026-11-01T09:05:01Z"), 4,
         "timestamp_in_future"),
        (("--customer", "cus_alpaca", "--value", "1", "--timestamp", "yesterday"), 4,
         "--timestamp"),
        (("--payload", "value"), 4, "KEY=VALUE"),
        (("--customer", "cus_alpaca", "--payload", "value=1"), 2, "--payload"),
        ((), 2, "payload"),
    ],
)  # fmt: skip
def test_send_errors(alpaca: Billing, args: tuple[str, ...], code: int, fragment: str) -> None:
    assert_error(send(alpaca, *args), code, fragment)


def test_unknown_meter_in_an_event_is_exit_4(alpaca: Billing) -> None:
    result = alpaca("event", "send", "--event-name", "nope", "--customer", "cus_alpaca",
                    "--value", "1")  # fmt: skip
    assert_error(result, 4, "no_meter", "nope")


def test_list_filters_and_formats(alpaca: Billing) -> None:
    alpaca.json("customer", "create", "--id", "cus_beta", "--invoice-prefix", "BETA")
    for ident, customer, ts in (("a", "cus_alpaca", T), ("b", "cus_beta", T),
                                ("c", "cus_alpaca", "2026-10-30")):  # fmt: skip
        json_of(send(alpaca, "--customer", customer, "--value", "1", "--identifier", ident,
                     "--timestamp", ts, "--json"))  # fmt: skip
    ids = lambda *a: [e["identifier"] for e in alpaca.json("event", "list", *a)["data"]]  # noqa: E731
    assert ids() == ["c", "b", "a"]  # newest received first
    assert ids("--customer", "cus_alpaca") == ["c", "a"]
    assert ids("--meter", "mtr_tokens", "--start", "2026-10-31") == ["b", "a"]
    assert ids("--end", "2026-10-31") == ["c"]
    csv_out = alpaca("event", "list", "--csv")
    assert csv_out.exit_code == 0
    assert csv_out.stdout.splitlines()[0].startswith("identifier,event_name,payload,timestamp")
    assert_error(alpaca("event", "list", "--json", "--csv"), 2)
    assert_error(alpaca("event", "list", "--customer", "cus_x"), 3, "cus_x")
    assert_error(alpaca("event", "list", "--invoice", "in_x"), 3, "in_x")


def test_list_on_a_missing_ledger_is_exit_3(billing: Billing, db) -> None:
    assert_error(billing("event", "list"), 3, "no ledger")
    assert not ledger_exists(db)


def test_cancel(alpaca: Billing) -> None:
    json_of(send(alpaca, "--customer", "cus_alpaca", "--value", "5", "--identifier", "x",
                 "--timestamp", T, "--json"))  # fmt: skip
    done = alpaca.json("event", "cancel", "--event-name", "api_tokens", "--identifier", "x")
    assert done["billing_cli"]["cancelled"] is True
    again = alpaca("event", "cancel", "--event-name", "api_tokens", "--identifier", "x")
    assert again.exit_code == 0 and "already cancelled" in again.stderr
    assert_error(
        alpaca("event", "cancel", "--event-name", "api_tokens", "--identifier", "nope"), 3, "nope"
    )


def test_meter_usage(alpaca: Billing) -> None:
    for ident, value, ts in (("u1", "10", "2026-10-31T10:15:00Z"),
                             ("u2", "5", "2026-10-31T10:45:00Z"),
                             ("u3", "-1.5", "2026-10-31T12:00:00Z")):  # fmt: skip
        json_of(send(alpaca, "--customer", "cus_alpaca", "--value", value, "--identifier", ident,
                     "--timestamp", ts, "--json"))  # fmt: skip
    base = ("meter", "usage", "mtr_tokens", "--customer", "cus_alpaca")
    total = alpaca.json(*base, "--start", "2026-10-31", "--end", "2026-11-01")
    assert total["object"] == "list"
    assert total["data"] == [
        {
            "id": total["data"][0]["id"],
            "object": "billing.meter_event_summary",
            "aggregated_value": 13.5,
            "end_time": NOW_TS - 9 * 3600,
            "livemode": False,
            "meter": "mtr_tokens",
            "start_time": NOW_TS - 33 * 3600,
            "billing_cli": {"customer": "cus_alpaca", "event_count": 3},
        }
    ]
    assert total["data"][0]["id"].startswith("mtrusg_")
    hourly = alpaca.json(*base, "--start", "2026-10-31T10:30:00Z", "--end", "2026-11-01",
                         "--window", "hour")  # fmt: skip
    assert [(w["start_time"] % 86400, w["aggregated_value"]) for w in hourly["data"]] == [
        (10 * 3600 + 1800, 5), (12 * 3600, -1.5)
    ]  # fmt: skip
    table = alpaca(*base, "--start", "2026-10-31", "--end", "2026-11-01")
    assert table.exit_code == 0 and "13.5" in table.stdout
    assert_error(alpaca(*base, "--start", "2026-10-31T00:00:30Z", "--end", "2026-11-01"), 4,
                 "minute")  # fmt: skip
    assert_error(alpaca(*base, "--start", "2026-10-31", "--end", "2026-10-31"), 4)
    assert_error(alpaca("meter", "usage", "mtr_nope", "--customer", "cus_alpaca", "--start",
                        "2026-10-31", "--end", "2026-11-01"), 3, "mtr_nope")  # fmt: skip


@pytest.mark.sqlite_only  # rows written with sqlite3
def test_late_event_is_said_on_stderr(alpaca: Billing, db) -> None:
    import sqlite3

    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            "INSERT INTO invoices (id, created, customer, status, billing_reason, currency,"
            " period_start, period_end, subtotal, total, amount_due, computed_at)"
            " VALUES ('in_x', 0, 'cus_alpaca', 'draft', 'subscription_cycle', 'usd', ?, ?,"
            " 0, 0, 0, 0)",
            (T_TS - 86400, T_TS + 86400),
        )
        conn.execute(
            "INSERT INTO invoice_lines (id, invoice, position, type, meter, description,"
            " period_start, period_end, quantity_decimal, quantity, amount, explain)"
            " VALUES ('il_x', 'in_x', 0, 'subscription', 'mtr_tokens', 'x', ?, ?, '0', 0, 0, '{}')",
            (T_TS - 86400, T_TS + 86400),
        )
        conn.execute("UPDATE invoices SET status = 'open', finalized_at = 1 WHERE id = 'in_x'")
    conn.close()
    result = send(alpaca, "--customer", "cus_alpaca", "--value", "1", "--timestamp", T, "--json")
    assert json_of(result)["billing_cli"]["status"] == "late"
    assert "late" in result.stderr and "--resolve next-invoice" in result.stderr


def test_progress_bar_only_when_stderr_is_a_terminal(monkeypatch, tmp_path) -> None:
    import io
    import sys

    from billing_cli.api.event_import import ImportSummary
    from billing_cli.cli.event_ingest import _Progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    src = tmp_path / "e.csv"
    src.write_text("event_name\n")
    for stderr, drawn in ((io.StringIO(), False), (Terminal(), True)):
        monkeypatch.setattr(sys, "stderr", stderr)
        with open(src, "rb") as fh, _Progress(fh) as progress:
            fh.read()
            progress(ImportSummary(read=1))
        assert bool(stderr.getvalue()) is drawn


def test_unwritable_reject_file_is_exit_4(alpaca: Billing, tmp_path) -> None:
    src = tmp_path / "e.csv"
    src.write_text("event_name,stripe_customer_id,value\napi_tokens,cus_alpaca,1\n")
    result = alpaca("event", "import", str(src), "--reject-file", str(tmp_path / "no" / "r.csv"))
    assert_error(result, 4, "--reject-file")
    assert alpaca.json("event", "list")["data"] == []
