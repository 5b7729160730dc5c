"""What a person sees on a terminal (issue 16.1, 16.2, 10.1): at 60, 80 and 120 columns no id,
amount or number is cut, folded or dropped; paid and void invoices owe nothing now; stored text
is shown as the characters it holds, never as Rich markup or terminal control sequences.

Every table goes through Rich's own terminal detection: `TTY_COMPATIBLE=1` makes Rich treat
the CliRunner's stdout as a terminal and `COLUMNS` fixes its width, exactly as a terminal of
that width would. `test_a_real_pseudo_terminal` checks the same through a real pty.
"""

from __future__ import annotations

import csv
import io
import os
import pty
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Billing, build_alpaca

from billing_cli.present.amounts import format_amount

WIDTHS = (60, 80, 120)
ANSI = re.compile(r"\x1b\[[0-9;]*m")
LONG_ID = "cus_" + "L" * 60  # the longest id `--id` accepts (64 characters)
HOSTILE = ("Acme [/x]", "[red]Net[/red]", "[b]bold[/b] :smile:", "[link=http://x]y[/link]")


def on_terminal(billing: Billing, width: int, *args: str, now: str | None = None) -> str:
    """The command's stdout as a terminal `width` columns wide shows it, styles removed."""
    env = {"COLUMNS": str(width), "TTY_COMPATIBLE": "1", "NO_COLOR": "1", "LINES": "50"}
    kwargs = {"now": now} if now else {}
    result = billing(*args, env=env, **kwargs)
    assert result.exit_code == 0, result.stderr
    return ANSI.sub("", result.stdout)


def busy_ledger(billing: Billing) -> Billing:
    """Every kind of object, with long names, a 64-character id, paid, void and open invoices,
    a late-usage line and a package transform."""
    build_alpaca(billing)
    billing.json(
        "price", "create", "--id", "price_pack", "--product-name",
        "Alpaca Inference Platform — premium tier with a rather long product name",
        "--currency", "usd", "--unit-amount", "4", "--transform-divide-by", "100",
        "--transform-round", "up", "--interval", "month", "--usage-type", "metered",
        "--meter", "mtr_tokens", "--lookup-key", "tokens_per_hundred_long_lookup_key",
    )  # fmt: skip
    billing.json(
        "customer", "create", "--id", LONG_ID, "--name",
        "Beta Very Long Customer Name Incorporated International Holdings",
        "--email", "accounts-payable@beta-long-domain.example", "--invoice-prefix", "BETALONG",
    )  # fmt: skip
    billing.json("customer", "create", "--name", "Gamma", "--invoice-prefix", "GAMMA")
    gamma = next(c["id"] for c in billing.json("customer", "list")["data"]
                 if c["invoice_prefix"] == "GAMMA")  # fmt: skip
    for customer, price in ((LONG_ID, "price_pack"), ("cus_alpaca", "price_tokens"),
                            (gamma, "price_seats")):  # fmt: skip
        billing.json("subscription", "create", "--customer", customer, "--price", price)
    for ident, customer, value in (
        ("e" * 60, LONG_ID, "123456789.123"),
        ("a1", "cus_alpaca", "4275"),
        ("a2", "cus_alpaca", "1"),
    ):
        billing.json(
            "event", "send", "--event-name", "api_tokens", "--customer", customer,
            "--value", value, "--identifier", ident, "--timestamp", "2026-11-05T00:00:00Z",
            now="2026-11-05T00:00:00Z",
        )  # fmt: skip
    billing.json("invoice", "run", now="2026-12-01T10:00:00Z")
    invoices = billing.json("invoice", "list", now="2026-12-01T10:00:00Z")["data"]
    by_customer = {i["customer"]: i for i in invoices if i["status"] == "open"}
    billing.json("invoice", "pay", by_customer["cus_alpaca"]["id"], now="2026-12-02T00:00:00Z")
    billing.json("invoice", "void", by_customer[gamma]["id"], now="2026-12-02T00:00:00Z")
    billing(
        "event", "send", "--event-name", "api_tokens", "--customer", LONG_ID, "--value", "777",
        "--identifier", "late1", "--timestamp", "2026-11-20T00:00:00Z",
        now="2026-12-03T00:00:00Z",
    )  # fmt: skip
    billing.json("event", "late", "--resolve", "next-invoice", now="2026-12-03T00:00:00Z")
    billing.json("invoice", "run", now="2027-01-01T10:00:00Z")
    billing(
        "event", "send", "--event-name", "api_tokens", "--customer", LONG_ID, "--value", "5",
        "--identifier", "late2", "--timestamp", "2026-12-20T00:00:00Z",
        now="2027-01-01T11:00:00Z",
    )  # fmt: skip
    return billing


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Billing:
    return busy_ledger(Billing(tmp_path_factory.mktemp("busy") / "billing.db"))


def money(obj: dict, *keys: str) -> list[str]:
    return [format_amount(obj[k], obj["currency"]) for k in keys]


def invoice_words(inv: dict) -> list[str]:
    words = [inv["id"], inv["customer"], inv["number"] or ""]
    words += money(inv, "total", "amount_due", "amount_paid", "amount_remaining")
    for line in inv["lines"]["data"]:
        words += [format_amount(line["amount"], inv["currency"]), line["quantity_decimal"]]
    return [w for w in words if w]


def whole(output: str, words: list[str], what: str) -> None:
    """Every word appears whole: not cut, not folded over two lines, not ellipsized."""
    for word in words:
        assert word in output, f"{word!r} is not whole in {what}:\n{output}"


LIST_COMMANDS = {
    "meter": lambda o: [o["id"], o["event_name"]],
    "product": lambda o: [o["id"]],
    "price": lambda o: [
        o["id"],
        o["product"],
        o["unit_amount_decimal"] or "",
        o["recurring"]["meter"] or "",
        o["lookup_key"] or "",
    ],  # fmt: skip
    "customer": lambda o: [o["id"], o["invoice_prefix"]],
    "subscription": lambda o: (
        [o["id"], o["customer"]] + [i["price"]["id"] for i in o["items"]["data"]]
    ),
    "invoice": lambda o: (
        [o["id"], o["customer"], o["number"] or ""]
        + money(o, "total", "amount_paid", "amount_remaining")
    ),
}


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("group", sorted(LIST_COMMANDS))
def test_list_tables_keep_every_id_and_amount_whole(ledger: Billing, group: str, width: int):
    now = "2027-01-02T00:00:00Z"
    data = ledger.json(group, "list", now=now)["data"]
    assert data
    shown = on_terminal(ledger, width, group, "list", now=now)
    for obj in data:
        whole(shown, [w for w in LIST_COMMANDS[group](obj) if w], f"{group} list at {width}")


@pytest.mark.parametrize("width", WIDTHS)
def test_event_tables_keep_identifiers_and_values_whole(ledger: Billing, width: int) -> None:
    events = ledger.json("event", "list", now="2027-01-02T00:00:00Z")["data"]
    shown = on_terminal(ledger, width, "event", "list")
    for e in events:
        whole(shown, [e["identifier"], *e["payload"].values()], f"event list at {width}")
    late = on_terminal(ledger, width, "event", "late")
    assert "late2" in late and LONG_ID in late
    usage_args = ("meter", "usage", "mtr_tokens", "--customer", LONG_ID,
                  "--start", "2026-11-01T00:00:00Z", "--end", "2026-12-01T00:00:00Z")  # fmt: skip
    usage = ledger.json(*usage_args)
    shown = on_terminal(ledger, width, *usage_args)
    values = [str(w["aggregated_value"]) for w in usage["data"]]  # a JSON number, as Stripe's
    whole(shown, values, f"meter usage at {width}")


@pytest.mark.parametrize("width", WIDTHS)
def test_invoice_documents_keep_every_amount_whole(ledger: Billing, width: int) -> None:
    for inv in ledger.json("invoice", "list", now="2027-01-02T00:00:00Z")["data"]:
        shown = on_terminal(ledger, width, "invoice", "show", inv["id"], "--explain")
        whole(shown, invoice_words(inv), f"invoice show {inv['id']} at {width}")
        assert "0.04 USD" in shown or "0.0004 USD" in shown or "20.00 USD" in shown
    preview = ledger.json("invoice", "upcoming", "--customer", LONG_ID,
                          now="2027-01-15T00:00:00Z")  # fmt: skip
    shown = on_terminal(ledger, width, "invoice", "upcoming", "--customer", LONG_ID,
                        now="2027-01-15T00:00:00Z")  # fmt: skip
    whole(shown, invoice_words(preview), f"invoice upcoming at {width}")


@pytest.mark.parametrize("width", WIDTHS)
def test_show_commands_keep_values_whole(ledger: Billing, width: int) -> None:
    customer = ledger.json("customer", "show", LONG_ID)
    whole(on_terminal(ledger, width, "customer", "show", LONG_ID), [customer["id"]], "customer")
    sub = ledger.json("subscription", "list", "--customer", LONG_ID)["data"][0]
    shown = on_terminal(ledger, width, "subscription", "show", sub["id"])
    whole(shown, [sub["id"], LONG_ID, "price_pack"], "subscription show")
    price = ledger.json("price", "show", "price_pack")
    shown = on_terminal(ledger, width, "price", "show", "price_pack")
    whole(shown, [price["id"], price["product"], price["lookup_key"]], "price show")


def test_narrow_tables_switch_layout_instead_of_cutting(ledger: Billing) -> None:
    """At 60 columns the invoice list cannot be a table: it becomes field/value blocks; at 80
    it is a table (secondary columns stacked). Either way no line holds an ellipsis."""
    narrow = on_terminal(ledger, 60, "invoice", "list")
    wide = on_terminal(ledger, 80, "invoice", "list", "--customer", "cus_alpaca")
    assert re.search(r"^id +in_", narrow, re.M) and "due now" in narrow
    assert "───" in wide
    assert "…" not in narrow + wide


def test_paid_and_void_invoices_owe_nothing_now(ledger: Billing) -> None:
    data = ledger.json("invoice", "list")["data"]
    for status in ("paid", "void"):
        inv = next(i for i in data if i["status"] == status and i["total"] > 0)
        assert inv["amount_remaining"] == 0 and inv["total"] > 0
        shown = on_terminal(ledger, 120, "invoice", "show", inv["id"])
        due = re.search(r"^due now +(\S+ \S+)$", shown, re.M)
        assert due and due.group(1) == format_amount(0, "usd"), shown
        paid = re.search(r"^amount paid +(\S+ \S+)$", shown, re.M)
        expected = inv["amount_due"] if status == "paid" else 0
        assert paid and paid.group(1) == format_amount(expected, "usd"), shown
    blocks = on_terminal(ledger, 60, "invoice", "list").split("\n\n")
    for block in blocks:
        fields = dict(re.findall(r"^(\w[\w ]*?) {2,}(.+)$", block, re.M))
        if fields.get("status") in ("paid", "void"):
            assert fields["due now"] == format_amount(0, "usd"), block
            if fields["status"] == "paid":
                assert fields["paid"] == fields["total"], block
    rows = list(csv.DictReader(io.StringIO(ledger("invoice", "list", "--csv").stdout)))
    for row in rows:
        if row["status"] in ("paid", "void"):
            assert row["amount_remaining"] == "0"


def in_a_pty(billing: Billing, width: int, *args: str) -> str:
    """Run `billing ARGS` in a real pseudo-terminal `width` columns wide; what it showed."""
    import fcntl
    import struct
    import termios

    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 50, width, 0, 0))
    drop = ("COLUMNS", "TTY_COMPATIBLE", "FORCE_COLOR")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BILLING_") and k not in drop}
    env.update(PYTHONPATH=str(Path(__file__).parents[1]), NO_COLOR="1", TERM="xterm")
    proc = subprocess.Popen(
        [sys.executable, "-m", "billing_cli", "--db", str(billing.db), *args],
        stdout=child, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    os.close(child)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert proc.wait(timeout=60) == 0
    os.close(main)
    return ANSI.sub("", b"".join(chunks).decode()).replace("\r\n", "\n")


@pytest.mark.parametrize("width", [60, 80])
def test_a_real_pseudo_terminal(ledger: Billing, width: int) -> None:
    """The same through a real pty: the process sees a terminal of its own and its size."""
    shown = in_a_pty(ledger, width, "invoice", "list")
    for inv in ledger.json("invoice", "list")["data"]:
        whole(shown, [inv["id"], inv["customer"], *money(inv, "total")], "pty invoice list")
    shown = in_a_pty(ledger, width, "price", "list")
    for price in ledger.json("price", "list")["data"]:
        whole(shown, LIST_COMMANDS["price"](price), "pty price list")


# -- stored text is data (issue 10.1) -----------------------------------------------------------


@pytest.fixture
def hostile(alpaca: Billing) -> Billing:
    """Every stored text field holding markup, and (written behind the program's back, as an
    older version or another tool could) ANSI escapes and a newline."""
    alpaca.json("meter", "create", "--id", "mtr_h", "--display-name", HOSTILE[0],
                "--event-name", "h_tokens", "--aggregation", "sum")  # fmt: skip
    alpaca.json("price", "create", "--id", "price_h", "--product-name", HOSTILE[1],
                "--currency", "usd", "--unit-amount", "3", "--interval", "month",
                "--usage-type", "metered", "--meter", "mtr_h")  # fmt: skip
    alpaca.json("customer", "create", "--id", "cus_h", "--name", HOSTILE[2],
                "--email", "[i]x[/i]@example.com", "--invoice-prefix", "HOST")  # fmt: skip
    alpaca.json("subscription", "create", "--customer", "cus_h", "--price", "price_h")
    alpaca.json("event", "send", "--event-name", "h_tokens", "--identifier", "[/x]",
                "--payload", "stripe_customer_id=cus_h", "--payload", "value=5",
                "--payload", "note=[red]x[/red]")  # fmt: skip
    conn = sqlite3.connect(alpaca.db)
    with conn:
        conn.execute("UPDATE products SET description = ? WHERE name = ?",
                     ("\x1b[31mred\x1b[0m\nsecond line", HOSTILE[1]))  # fmt: skip
        conn.execute("UPDATE customers SET name = ? WHERE id = 'cus_alpaca'",
                     (HOSTILE[3] + "\x1b]8;;http://evil\x07link\x1b]8;;\x07",))  # fmt: skip
    conn.close()
    return alpaca


HOSTILE_COMMANDS = [
    ("meter", "list"), ("meter", "show", "mtr_h"), ("product", "list"),
    ("price", "list"), ("price", "show", "price_h"), ("customer", "list"),
    ("customer", "show", "cus_h"), ("customer", "show", "cus_alpaca"), ("subscription", "list"),
    ("event", "list"), ("invoice", "upcoming", "--customer", "cus_h"),
    ("invoice", "upcoming", "--customer", "cus_h", "--explain"),
]  # fmt: skip


@pytest.mark.parametrize("tty", [True, False], ids=["terminal", "pipe"])
def test_stored_text_is_shown_literally(hostile: Billing, tty: bool) -> None:
    product = hostile.json("product", "list")["data"]
    [pid] = [p["id"] for p in product if p["description"] and "\x1b" in p["description"]]
    seen = ""
    for args in [*HOSTILE_COMMANDS, ("product", "show", pid)]:
        env = {"COLUMNS": "100", "TTY_COMPATIBLE": "1" if tty else "0", "NO_COLOR": "1"}
        result = hostile(*args, env=env)
        assert result.exit_code == 0, (args, result.stderr)
        out = result.stdout
        # No control sequence from the data reaches the terminal: the only ESC left are the
        # style codes Rich adds itself on a terminal (SGR ...m).
        assert "\x1b]8" not in out and "\x07" not in out
        assert "\x1b[31m" not in out
        seen += ANSI.sub("", out)
    for text in (*HOSTILE, "[i]x[/i]@example.com", "[/x]", "note=[red]x[/red]"):
        assert text in seen, text
    assert "\\x1b[31mred\\x1b[0m\\nsecond line" in seen
    assert "\\x1b]8;;http://evil\\x07link" in seen
    # a finalized invoice document too
    hostile.json("invoice", "run", now="2026-12-01T10:00:00Z")
    inv = hostile.json("invoice", "list", "--customer", "cus_h")["data"][0]
    shown = hostile("invoice", "show", inv["id"], "--explain",
                    env={"TTY_COMPATIBLE": "1" if tty else "0"}).stdout  # fmt: skip
    assert HOSTILE[1] in shown and HOSTILE[2] in shown
