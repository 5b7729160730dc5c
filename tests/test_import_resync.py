"""Issue 15 item 1: a record the importer cannot read is skipped to *its* end, as the CSV
grammar defines it, so the text of a quoted field is never read as rows (no injected events).

The attack: a payload cell whose text holds CSV lines, written by a producer that quotes it
properly, grown past the field limit (or its quote left open). Before the fix the csv module
gave up inside the field and the lines after were stored as real, billable events."""

from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_cli.ingest.csv_records import MAX_RECORD_BYTES
from billing_cli.ingest.readers import iter_rows
from tests.conftest import NOW_TS, Billing, json_of

TS = NOW_TS - 3600
INJECTION = "tokens,INJECTED,cus_1,999999"
HEADER = "event_name,identifier,stripe_customer_id,value\n"


@pytest.fixture
def tokens(billing: Billing) -> Billing:
    billing.json(
        "meter", "create", "--id", "mtr_tokens", "--display-name", "Tokens",
        "--event-name", "tokens", "--aggregation", "sum",
    )  # fmt: skip
    billing.json("customer", "create", "--id", "cus_1")
    return billing


def quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def stored_identifiers(billing: Billing) -> list[str]:
    events = billing.json("event", "list", "--customer", "cus_1")["data"]
    return sorted(e["identifier"] for e in events)


def import_csv(billing: Billing, data: str) -> dict:
    result = billing("event", "import", "-", "--format", "csv", "--json", input=data.encode())
    assert result.exit_code in (0, 7), result.stderr
    assert "Traceback" not in result.stderr
    return {"summary": json.loads(result.stdout), "stderr": result.stderr, "exit": result.exit_code}


def lines_of_injection(size: int) -> str:
    """Quoted-field text of about `size` bytes, CSV lines every so often."""
    block = "x" * 2000 + "\n" + INJECTION + "\n"
    return block * (size // len(block) + 1)


@pytest.mark.parametrize("size", [200_000, MAX_RECORD_BYTES + 50_000, 3 * MAX_RECORD_BYTES])
def test_oversized_quoted_field_rejects_its_record_only(tokens: Billing, size: int) -> None:
    data = (
        HEADER
        + "tokens,before,cus_1,1\n"
        + f"tokens,big,cus_1,{quoted(lines_of_injection(size))}\n"
        + "tokens,after,cus_1,2\n"
    )
    out = import_csv(tokens, data)
    assert stored_identifiers(tokens) == ["after", "before"]
    s = out["summary"]
    assert (s["accepted"], s["rejected"]) == (2, 1)
    assert out["exit"] == 7
    assert "line 3" in out["stderr"]


def test_unbalanced_quote_refuses_the_rest_of_the_input(tokens: Billing) -> None:
    rest = "".join(f"{INJECTION}\n" for _ in range(100_000))  # 2.9 MB after the open quote
    data = HEADER + "tokens,before,cus_1,1\n" + 'tokens,open,cus_1,"5\n' + rest
    out = import_csv(tokens, data)
    assert stored_identifiers(tokens) == ["before"]
    assert (out["summary"]["accepted"], out["summary"]["rejected"]) == (1, 1)
    assert "never closed" in out["stderr"] and "line 3" in out["stderr"]


def test_unbalanced_quote_within_the_limit_is_not_rows_either(tokens: Billing) -> None:
    data = HEADER + 'tokens,open,cus_1,"5\n' + INJECTION + "\n" + INJECTION + "\n"
    out = import_csv(tokens, data)
    assert stored_identifiers(tokens) == []
    assert out["summary"]["rejected"] == 1


def test_text_after_a_closing_quote_does_not_resync_inside_the_next_field(
    tokens: Billing,
) -> None:
    # Not RFC 4180 (`"a"b`), and the next field opens a quote spanning lines: the record is
    # rejected as a whole, its quoted lines with it.
    data = HEADER + f'tokens,"a"b,cus_1,"7\n{INJECTION}\n"\ntokens,after,cus_1,2\n'
    out = import_csv(tokens, data)
    assert stored_identifiers(tokens) == ["after"]
    assert out["summary"]["rejected"] == 1


def test_a_quote_inside_an_unquoted_field_rejects_that_record_only(tokens: Billing) -> None:
    data = HEADER + 'tokens,x"y,cus_1,1\ntokens,after,cus_1,2\n'
    out = import_csv(tokens, data)
    assert stored_identifiers(tokens) == ["after"]
    assert out["summary"]["rejected"] == 1


def test_quoted_multiline_payload_within_the_limit_is_one_record(billing: Billing) -> None:
    billing.json(
        "meter", "create", "--id", "mtr_tokens", "--display-name", "Tokens",
        "--event-name", "tokens", "--aggregation", "sum",
    )  # fmt: skip
    billing.json("customer", "create", "--id", "cus_1")
    note = lines_of_injection(100_000)
    data = (
        f"event_name,identifier,stripe_customer_id,value,note\ntokens,ok,cus_1,3,{quoted(note)}\n"
    )
    result = billing("event", "import", "-", "--format", "csv", "--json", input=data.encode())
    assert json_of(result)["accepted"] == 1
    (event,) = billing.json("event", "list")["data"]
    assert event["identifier"] == "ok" and event["payload"]["note"] == note


def test_reader_resumes_at_the_records_end_with_right_line_numbers() -> None:
    big = lines_of_injection(MAX_RECORD_BYTES + 10)
    data = (HEADER + f"tokens,a,cus_1,{quoted(big)}\ntokens,b,cus_1,2\n").encode()
    rows = list(iter_rows(io.BytesIO(data), "csv"))
    assert [(r.line, r.reject.code if r.reject else None) for r in rows] == [
        (2, "invalid_csv"),
        (2 + big.count("\n") + 1, None),
    ]
    assert rows[0].raw is not None and len(rows[0].raw) < 2000
    assert rows[1].fields == {
        "event_name": "tokens", "identifier": "b", "stripe_customer_id": "cus_1", "value": "2",
    }  # fmt: skip


def test_jsonl_line_over_the_limit_is_skipped_to_its_newline(tokens: Billing) -> None:
    inner = json.dumps(
        {"event_name": "tokens", "identifier": "INJECTED", "timestamp": TS,
         "payload": {"stripe_customer_id": "cus_1", "value": "999999"}}
    )  # fmt: skip
    filler = "y" * (MAX_RECORD_BYTES + 10)
    line = json.dumps(
        {"event_name": "tokens", "identifier": "big", "timestamp": TS,
         "payload": {"stripe_customer_id": "cus_1", "value": "1", "note": filler + inner}}
    )  # fmt: skip
    ok = json.dumps(
        {"event_name": "tokens", "identifier": "after", "timestamp": TS,
         "payload": {"stripe_customer_id": "cus_1", "value": "2"}}
    )  # fmt: skip
    data = (line + "\n" + ok + "\n").encode()
    result = tokens("event", "import", "-", "--format", "jsonl", "--json", input=data)
    assert result.exit_code == 7
    assert json.loads(result.stdout)["rejected"] == 1
    assert stored_identifiers(tokens) == ["after"]


cell_text = st.lists(st.sampled_from([*'ab,"\n\r ', INJECTION, "\ufeff", "é"]), max_size=12).map(
    "".join
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(cell_text, min_size=3, max_size=3), min_size=1, max_size=8))
def test_what_a_csv_writer_quotes_reads_back_record_for_record(rows: list[list[str]]) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["event_name", "a", "b"])
    writer.writerows(rows)
    read = list(iter_rows(io.BytesIO(out.getvalue().encode()), "csv"))
    assert all(r.reject is None for r in read), [r.reject for r in read]
    assert [[r.fields[k] for k in ("event_name", "a", "b")] for r in read] == rows  # type: ignore[index]


# -- issue 15 item 4: JSONL objects that two readers could read differently ---------------------
def jsonl(billing: Billing, *lines: str, args: tuple[str, ...] = ()) -> tuple[int, dict, str]:
    data = ("\n".join(lines) + "\n").encode()
    result = billing("event", "import", "-", "--format", "jsonl", "--json", *args, input=data)
    assert "Traceback" not in result.stderr
    return result.exit_code, json.loads(result.stdout), result.stderr


@pytest.mark.parametrize(
    "line",
    [
        f'{{"event_name":"tokens","timestamp":{TS},"payload":{{"stripe_customer_id":"cus_1",'
        '"value":"5","value":"7"}}',
        f'{{"event_name":"tokens","event_name":"other","timestamp":{TS},'
        '"payload":{"stripe_customer_id":"cus_1","value":"5"}}',
        f'{{"event_name":"tokens","timestamp":{TS},"payload":{{"stripe_customer_id":"cus_1",'
        '"value":"5"},"payload":{"stripe_customer_id":"cus_1","value":"9"}}',
    ],
)
def test_jsonl_duplicate_keys_are_refused_not_last_wins(tokens: Billing, line: str) -> None:
    code, summary, stderr = jsonl(tokens, line)
    assert code == 7 and summary["rejected"] == 1 and summary["accepted"] == 0
    assert "appears twice" in stderr
    assert stored_identifiers(tokens) == []


@pytest.mark.parametrize("key", ["", "\\u0000", "note\\u0000x"])
def test_jsonl_empty_or_nul_payload_keys_are_refused(tokens: Billing, key: str) -> None:
    line = (
        f'{{"event_name":"tokens","timestamp":{TS},"payload":{{"stripe_customer_id":"cus_1",'
        f'"value":"5","{key}":"x"}}}}'
    )
    code, summary, stderr = jsonl(tokens, line)
    assert code == 7 and summary["rejected"] == 1, stderr
    assert "invalid_payload" in stderr
    assert stored_identifiers(tokens) == []


def test_csv_header_with_a_nul_is_refused(tokens: Billing) -> None:
    data = b"event_name,stripe_customer_id,value,no\x00te\ntokens,cus_1,1,x\n"
    result = tokens("event", "import", "-", "--format", "csv", input=data)
    assert result.exit_code == 4 and "NUL" in result.stderr


def test_event_send_payload_key_with_nul_is_refused(tokens: Billing) -> None:
    from billing_cli.errors import InvalidInput
    from billing_cli.ingest.validation import payload_from_pairs

    with pytest.raises(InvalidInput, match="NUL"):
        payload_from_pairs(["stripe_customer_id=cus_1", "a\x00b=1"])
