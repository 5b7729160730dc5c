"""Hostile input (issue "Trust" 5): hypothesis drives every command that takes user text.

Each test puts generated text (unicode, control characters, NUL, lone surrogates as the OS
hands over undecodable bytes, very long strings, near-misses of valid values) into one slot of
an otherwise valid command line and checks the contract of SPEC 5.2:

- the exit code is one of {0, 2, 3, 4, 5, 6, 7}: never 1 (a bug), never anything else;
- no traceback, ever;
- a failure prints nothing on stdout and exactly `error: …` (+ optional `hint: …`) on stderr,
  with every control character escaped (a value cannot forge extra lines or colour codes);
- a failure writes nothing: every table's row count is what it was;
- a success with --json prints JSON.

The catalog commands run against one shared ledger holding the Alpaca example, so successes
accumulate (and later examples meet conflicts, which is fine). `HOSTILE_EXAMPLES` raises the
number of examples per slot for a longer hunt; CI runs a derandomized, moderate amount.
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing_cli.storage.sqlite.maintenance import COUNTED_TABLES
from tests.conftest import Billing, build_alpaca, json_of

EXAMPLES = int(os.environ.get("HOSTILE_EXAMPLES", "12"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize="HOSTILE_EXAMPLES" not in os.environ,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
EXIT_CODES = {0, 2, 3, 4, 5, 6, 7}

# Near-misses and classics: what a typo, a spreadsheet or an attacker produces.
SAMPLES = [
    "", " ", "-", "--", "--help", "-h", "=", "a=b", "k=", "=v", "a=b=c", ",", "a,b",
    "\x00", "a\x00b", "\udcff", "cus_\udcff", "\ud800", "\n", "a\nb", "\r\n", "\t", "\x1b[31m",
    "\x7f", "\x85", "\u2028", "\u202e", "\ufeff", "\u200b", "é", "Ünïcode ✓", "🦙", "漢字",
    "'", '"', "\\", "%s", "{}", "{x}", "$(id)", "`id`", "'; DROP TABLE meters; --",
    "null", "None", "true", "[]", "{}", '{"a": 1}', "0", "-0", "+1", "-1", "1e3", "1E-3",
    "NaN", "nan", "Infinity", "-inf", "inf", "0x10", "1_000", "1,000", "1.5", ".5", "5.",
    "²", "١٢٣", "１２", "٣:٣", "9" * 19, "9" * 40, "9" * 5000, "x" * 251, "x" * 20_000,
    "up_to=inf", "up_to=inf,unit_amount=", "up_to=5,unit_amount=1e2", "up_to=0,flat_amount=1",
    "cus_alpaca", "price_tokens", "price_seats", "price_seats:", "price_seats:-1",
    "price_seats:²", "price_seats:1:2", ":3", "mtr_tokens", "prod_api", "tokens_monthly",
    "2026-11-01T09:00:00Z", "1793523600", "2026-02-30", "2026-11-01T24:00:00Z",
    "0000-01-01", "9999-12-31T23:59:59-23:59", "1969-12-31", "2026-13-01", "20261101",
    "253402300800", "1793523600000", "2026-11-01T09:00:00+24:00", "2026-11-01 09:00",
    "usd", "USD", "xxx", "jpy", "us", "usdd", "month", "day", "year", "week", "metered",
    "licensed", "tiered", "per_unit", "graduated", "volume", "up", "down", "hour",
    "sum", "count", "last", "ALPACA", "alpaca", "AB", "ABCDEFGHIJKLM", "a@b", "@", "a@@b",
    "billing@alpaca.example", "draft", "open", "paid", "90m", "73h", "0s", "1d", "-1h",
]  # fmt: skip

# Tried in every slot on every run; the rest of SAMPLES comes in through hypothesis (all of it
# in every slot when HOSTILE_EXAMPLES is set, for a longer hunt).
CORE = [
    "", " ", "--help", "\x00", "a\x00b", "\udcff", "\n", "a\nb", "\x1b[31m", "\u2028", "\u202e",
    "'", "{x}", "'; DROP TABLE meters; --", "-1", "1e3", "NaN", "²", "١٢٣", "9" * 5000,
    "x" * 20_000, "🦙",
]  # fmt: skip
FIXED = SAMPLES if "HOSTILE_EXAMPLES" in os.environ else CORE

hostile = st.one_of(
    st.sampled_from(SAMPLES),
    st.text(st.characters(exclude_categories=()), max_size=30),
    st.text(st.characters(exclude_categories=()), min_size=200, max_size=3000),
    st.builds(lambda a, b: a + b, st.sampled_from(SAMPLES), st.text(max_size=5)),
)

PRICE = ["price", "create", "--product", "prod_api", "--currency", "usd", "--interval", "month",
         "--usage-type", "licensed", "--unit-amount", "5"]  # fmt: skip
TIERED = ["price", "create", "--product", "prod_api", "--currency", "usd", "--interval", "month",
          "--usage-type", "licensed", "--billing-scheme", "tiered",
          "--tiers-mode", "graduated"]  # fmt: skip
METER = ["meter", "create", "--display-name", "D", "--event-name", "ev{n}", "--aggregation", "sum"]
SUB = ["subscription", "create", "--customer", "cus_alpaca", "--price", "price_seats:1"]


def _with(base: list[str], option: str, value: str = "{x}") -> list[str]:
    """`base` with `option`'s value replaced (or the option appended)."""
    out = list(base)
    if option in out:
        out[out.index(option) + 1] = value
    else:
        out += [option, value]
    return out


# Every slot of every catalog command that takes user text. "{x}" is the hostile value, "{n}"
# a fresh number (so a success is not just a conflict with the previous example).
SLOTS: dict[str, list[str]] = {
    "meter create --display-name": _with(METER, "--display-name"),
    "meter create --event-name": _with(METER, "--event-name"),
    "meter create --aggregation": _with(METER, "--aggregation"),
    "meter create --customer-key": _with(METER, "--customer-key"),
    "meter create --value-key": _with(METER, "--value-key"),
    "meter create --event-time-window": _with(METER, "--event-time-window"),
    "meter create --id": _with(METER, "--id"),
    "meter show": ["meter", "show", "{x}"],
    "meter update ID": ["meter", "update", "{x}", "--display-name", "D"],
    "meter update --display-name": ["meter", "update", "mtr_tokens", "--display-name", "{x}"],
    "meter deactivate": ["meter", "deactivate", "{x}"],
    "meter reactivate": ["meter", "reactivate", "{x}"],
    "product create --name": ["product", "create", "--name", "{x}"],
    "product create --description": ["product", "create", "--name", "P", "--description", "{x}"],
    "product create --unit-label": ["product", "create", "--name", "P", "--unit-label", "{x}"],
    "product create --metadata": ["product", "create", "--name", "P", "--metadata", "{x}"],
    "product create --id": ["product", "create", "--name", "P", "--id", "{x}"],
    "product show": ["product", "show", "{x}"],
    "price create --currency": _with(PRICE, "--currency"),
    "price create --interval": _with(PRICE, "--interval"),
    "price create --usage-type": _with(PRICE, "--usage-type"),
    "price create --product": _with(PRICE, "--product"),
    "price create --product-name": [*PRICE[:2], "--product-name", "{x}", *PRICE[4:]],
    "price create --unit-amount": _with(PRICE, "--unit-amount"),
    "price create --unit-amount-decimal": [*PRICE[:-2], "--unit-amount-decimal", "{x}"],
    "price create --interval-count": _with(PRICE, "--interval-count"),
    "price create --nickname": _with(PRICE, "--nickname"),
    "price create --lookup-key": _with(PRICE, "--lookup-key", "{x}{n}"),
    "price create --metadata": _with(PRICE, "--metadata"),
    "price create --id": _with(PRICE, "--id"),
    "price create --meter": [*_with(PRICE, "--usage-type", "metered"), "--meter", "{x}"],
    "price create --billing-scheme": _with(PRICE, "--billing-scheme"),
    "price create --transform-divide-by": [*PRICE, "--transform-divide-by", "{x}",
                                           "--transform-round", "up"],
    "price create --transform-round": [*PRICE, "--transform-divide-by", "100",
                                       "--transform-round", "{x}"],
    "price create --tiers-mode": [*_with(TIERED, "--tiers-mode"),
                                  "--tier", "up_to=inf,unit_amount=1"],
    "price create --tier": [*TIERED, "--tier", "{x}"],
    "price create --tier up_to": [*TIERED, "--tier", "up_to={x},unit_amount=1",
                                  "--tier", "up_to=inf,unit_amount=1"],
    "price create --tier amount": [*TIERED, "--tier", "up_to=5,unit_amount_decimal={x}",
                                   "--tier", "up_to=inf,flat_amount={x}"],
    "price show": ["price", "show", "{x}"],
    "customer create --name": ["customer", "create", "--name", "{x}"],
    "customer create --email": ["customer", "create", "--email", "{x}"],
    "customer create --invoice-prefix": ["customer", "create", "--invoice-prefix", "{x}"],
    "customer create --metadata": ["customer", "create", "--metadata", "{x}", "--metadata", "a=b"],
    "customer create --id": ["customer", "create", "--id", "{x}"],
    "customer show": ["customer", "show", "{x}"],
    "subscription create --customer": _with(SUB, "--customer"),
    "subscription create --price": _with(SUB, "--price"),
    "subscription create --price QTY": _with(SUB, "--price", "price_seats:{x}"),
    "subscription create --billing-cycle-anchor": _with(SUB, "--billing-cycle-anchor"),
    "subscription create --backdate-start-date": _with(SUB, "--backdate-start-date"),
    "subscription create --trial-end": _with(SUB, "--trial-end"),
    "subscription create --trial-period-days": _with(SUB, "--trial-period-days"),
    "subscription create --metadata": _with(SUB, "--metadata"),
    "subscription show": ["subscription", "show", "{x}"],
    "subscription list --customer": ["subscription", "list", "--customer", "{x}"],
    "subscription cancel": ["subscription", "cancel", "{x}"],
    "invoice show": ["invoice", "show", "{x}"],
    "invoice list --customer": ["invoice", "list", "--customer", "{x}"],
    "invoice list --status": ["invoice", "list", "--status", "{x}"],
    "invoice upcoming --customer": ["invoice", "upcoming", "--customer", "{x}"],
    "invoice run --grace": ["invoice", "run", "--dry-run", "--grace", "{x}"],
    "invoice pay": ["invoice", "pay", "{x}"],
    "invoice void": ["invoice", "void", "{x}"],
    "invoice delete": ["invoice", "delete", "{x}"],
}  # fmt: skip
# Commands that print an object or a list take --json: a success must then print JSON.
NO_JSON = {"invoice run --grace"}
_numbers = itertools.count()


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Billing:
    """The Alpaca example (mtr_tokens, prod_api, price_tokens, price_seats, cus_alpaca)."""
    return build_alpaca(Billing(tmp_path_factory.mktemp("hostile") / "billing.db"))


def row_counts(db: Path) -> dict[str, int] | None:
    try:
        if not db.exists():
            return None
    except OSError:  # a hostile file name may be too long to even ask about
        return None
    conn = sqlite3.connect(db)
    try:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in COUNTED_TABLES}
    finally:
        conn.close()


def assert_contract(result, before: object, after: object, *, as_json: bool) -> None:  # noqa: ANN001
    """SPEC 5.2 for one run: exit code, no traceback, one clean error line, nothing written."""
    out, err = result.stdout, result.stderr
    context = f"exit {result.exit_code}\nstdout: {out[:2000]!r}\nstderr: {err[:2000]!r}"
    assert result.exit_code in EXIT_CODES, context
    assert "Traceback" not in out and "Traceback" not in err, context
    if result.exit_code == 0:
        if as_json:
            json.loads(out)
        return
    if out:  # with --json, the error again in Stripe's envelope (the HTTP API's)
        assert set(json.loads(out)["error"]) == {"type", "code", "message", "param"}, context
    else:
        assert out == "", context
    assert err.endswith("\n"), context
    lines = err[:-1].split("\n")
    assert len(lines) in (1, 2), context
    assert lines[0].startswith("error: "), context
    assert len(lines) == 1 or lines[1].startswith("hint: "), context
    raw = [ch for ch in err[:-1] if ch != "\n" and unicodedata.category(ch) in ("Cc", "Cs")]
    assert not raw, f"unescaped control characters {raw!r}\n{context}"
    assert after == before, f"a failed command wrote rows\n{context}"


def run_slot(billing: Billing, template: list[str], value: str, *, as_json: bool = True) -> None:
    n = str(next(_numbers))
    argv = [a.replace("{x}", value).replace("{n}", n) for a in template]
    if as_json:
        argv.append("--json")
    as_json = as_json and not {"--help", "-h"} & set(argv)  # help text is a fine answer too
    before = row_counts(billing.db)
    result = billing(*argv)
    assert_contract(result, before, row_counts(billing.db), as_json=as_json)


@pytest.mark.parametrize("slot", sorted(SLOTS))
@SETTINGS
@given(value=hostile)
def test_every_slot_survives_hostile_text(ledger: Billing, slot: str, value: str) -> None:
    run_slot(ledger, SLOTS[slot], value, as_json=slot not in NO_JSON)


@pytest.mark.parametrize("slot", sorted(SLOTS))
def test_every_slot_survives_the_classic_samples(ledger: Billing, slot: str) -> None:
    for value in FIXED:
        run_slot(ledger, SLOTS[slot], value, as_json=slot not in NO_JSON)


@SETTINGS
@given(value=hostile, command=st.sampled_from([["meter", "list"], ["customer", "create"]]))
def test_the_clock_survives_hostile_text(ledger: Billing, value: str, command: list[str]) -> None:
    before = row_counts(ledger.db)
    result = ledger("--now", value, *command, "--json", now=None)
    assert_contract(result, before, row_counts(ledger.db), as_json=True)


def _safe_name(value: str) -> str:
    """A file name from hostile text: no separators, no NUL (the OS cannot pass those)."""
    return value.replace("/", "_").replace("\x00", "_")[:200] or "_"


@SETTINGS
@given(value=hostile)
def test_ledger_paths_survive_hostile_text(
    ledger: Billing, tmp_path_factory: pytest.TempPathFactory, value: str
) -> None:
    folder = tmp_path_factory.mktemp("paths")
    name = _safe_name(value)
    before = row_counts(ledger.db)
    result = ledger("ledger", "backup", str(folder / name), "--json")
    assert_contract(result, before, row_counts(ledger.db), as_json=True)
    result = ledger("meter", "list", "--json", db=folder / f"x{name}")
    assert_contract(result, None, row_counts(folder / f"x{name}"), as_json=True)


# -- --tiers-json: bytes from a file or stdin ---------------------------------------------
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.sampled_from(["inf", "5", "0.5", "1e2", "NaN", "-1", "", "٣"])
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(
        st.sampled_from(
            ["up_to", "unit_amount", "unit_amount_decimal", "flat_amount", "flat_amount_decimal",
             "x"]
        ),
        inner,
        max_size=5,
    ),
    max_leaves=12,
)  # fmt: skip
tier_like = st.lists(
    st.fixed_dictionaries(
        {"up_to": st.one_of(st.integers(-5, 10**20), st.sampled_from(["inf", None, "5", 1.5]))},
        optional={
            "unit_amount": st.one_of(st.integers(-5, 10**20), st.text(max_size=5)),
            "unit_amount_decimal": st.sampled_from(["0.5", "1e-3", "NaN", "-1", 0.5, "x"]),
            "flat_amount": st.integers(-5, 10**6),
            "flat_amount_decimal": st.sampled_from(["10", "1.000000000001", "Infinity"]),
        },
    ),
    max_size=4,
)
tiers_bytes = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    tier_like.map(lambda v: json.dumps(v).encode()),
    tier_like.map(lambda v: b"\xef\xbb\xbf" + json.dumps(v).encode()),  # a BOM
    st.text(st.characters(exclude_categories=("Cs",)), max_size=50).map(str.encode),
)


@SETTINGS
@given(data=tiers_bytes, via_stdin=st.booleans())
def test_tiers_json_survives_hostile_bytes(
    ledger: Billing, tmp_path_factory: pytest.TempPathFactory, data: bytes, via_stdin: bool
) -> None:
    if via_stdin:
        source, stdin = "-", data
    else:
        source = str(tmp_path_factory.mktemp("tiers") / "tiers.json")
        Path(source).write_bytes(data)
        stdin = None
    before = row_counts(ledger.db)
    result = ledger(*TIERED, "--tiers-json", source, "--json", input=stdin)
    assert_contract(result, before, row_counts(ledger.db), as_json=True)


def test_a_missing_tiers_file_is_invalid_input(ledger: Billing, tmp_path: Path) -> None:
    result = ledger(*TIERED, "--tiers-json", str(tmp_path / "nope.json"))
    assert result.exit_code == 4 and "nope.json" in result.stderr


def test_the_samples_include_what_the_os_hands_over(ledger: Billing) -> None:
    """Undecodable argv bytes arrive as lone surrogates (PEP 383): exit 4, not a crash."""
    for args in (["customer", "create", "--name", "caf\udce9"], ["meter", "show", "\udcff"]):
        result = ledger(*args)
        assert result.exit_code == 4, result.stderr
        assert result.stderr.startswith("error: ") and "UTF-8" in result.stderr


def test_the_fixture_is_what_the_slots_expect(ledger: Billing) -> None:
    assert json_of(ledger("price", "show", "price_seats", "--json"))["id"] == "price_seats"


@pytest.mark.parametrize(
    "text",
    ["[" + "9" * 5000 + "]", "[" * 100_000 + "]" * 100_000, '[{"up_to": ' + "1" * 30 + "}]"],
    ids=["5000-digit number", "nested 100000 deep", "30-digit up_to"],
)
def test_tiers_json_that_python_cannot_read_is_invalid_input(ledger: Billing, text: str) -> None:
    before = row_counts(ledger.db)
    result = ledger(*TIERED, "--tiers-json", "-", input=text)
    assert_contract(result, before, row_counts(ledger.db), as_json=False)
    assert result.exit_code == 4


@pytest.mark.parametrize(
    "args",
    [
        ["--unit-amount", "1" + "0" * 14 + "1"],
        ["--unit-amount-decimal", "1" + "0" * 15 + ".5"],
        ["--billing-scheme", "tiered", "--tiers-mode", "volume",
         "--tier", "up_to=inf,flat_amount=1" + "0" * 16],
        ["--billing-scheme", "tiered", "--tiers-mode", "volume",
         "--tier", "up_to=" + "9" * 19 + ",unit_amount=1", "--tier", "up_to=inf,unit_amount=1"],
    ],
)  # fmt: skip
def test_amounts_beyond_the_ledgers_integers_are_refused(ledger: Billing, args: list[str]) -> None:
    base = [a for a in PRICE if a not in ("--unit-amount", "5")]
    before = row_counts(ledger.db)
    result = ledger(*base, *args)
    assert_contract(result, before, row_counts(ledger.db), as_json=False)
    assert result.exit_code == 4
    ok = ledger(*base, "--unit-amount", "1" + "0" * 15, "--json")  # the largest is fine
    assert ok.exit_code == 0, ok.stderr


@pytest.mark.parametrize("name", ["two\nlines", "esc\x1b[2Jape", "tab\there", "bell\x07"])
def test_a_file_name_cannot_forge_error_lines(ledger: Billing, tmp_path: Path, name: str) -> None:
    result = ledger("meter", "list", db=tmp_path / name)
    assert_contract(result, None, None, as_json=False)
    assert result.exit_code == 3 and repr(name)[1:-1] in result.stderr
