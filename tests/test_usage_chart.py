"""`billing meter usage --chart` (issue 18 item 1): bars per window on a terminal, labels whole at
80 and 60 columns, plain data off a terminal and with --json/--csv.

The terminal cases run the real CLI in a subprocess on a pseudo-terminal of a fixed size, as a
person's shell would; the drawing helpers are checked directly for the arithmetic of the bars.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from decimal import Decimal
from pathlib import Path

import pytest

from billing_cli.cli.usage_chart import (
    DAY,
    FULL,
    HOUR,
    ChartWindow,
    bar,
    every_window,
    peak_of,
    window_label,
)
from tests.conftest import json_of

ROOT = Path(__file__).resolve().parent.parent
T0 = 1793491200  # 2026-11-01T00:00:00Z
RANGE = ("--start", "2026-11-01T00:00:00Z", "--end", "2026-11-08T00:00:00Z")
# Usage on three days of the week; the 5th is the peak and the 3rd holds nothing.
SENT = [("2026-11-01T10:00:00Z", "100"), ("2026-11-02T10:00:00Z", "250"),
        ("2026-11-02T11:30:00Z", "0.5"), ("2026-11-05T23:59:00Z", "500")]  # fmt: skip


def test_bar_scales_in_eighths_and_never_exceeds_its_width() -> None:
    assert bar(Decimal(10), Decimal(10), 20) == FULL * 20
    assert bar(Decimal(5), Decimal(10), 20) == FULL * 10
    assert bar(Decimal(1), Decimal(16), 2) == "▏"  # 1/16 of 2 cells = one eighth
    assert bar(Decimal("0.0001"), Decimal(10_000), 10) == "▏"  # any usage stays visible
    assert bar(Decimal(0), Decimal(10), 20) == ""
    assert bar(Decimal(-4), Decimal(10), 20) == ""
    assert bar(None, Decimal(10), 20) == ""


def test_every_window_fills_gaps_and_keeps_cut_edges() -> None:
    found = [ChartWindow(T0 + 30 * 60, T0 + HOUR, Decimal(2)), ChartWindow(T0 + 2 * HOUR,
             T0 + 3 * HOUR, Decimal(5))]  # fmt: skip
    rows = every_window(found, T0 + 30 * 60, T0 + 3 * HOUR + 600, "hour")
    assert [(r.start, r.end, r.value) for r in rows] == [
        (T0 + 1800, T0 + HOUR, Decimal(2)),
        (T0 + HOUR, T0 + 2 * HOUR, None),
        (T0 + 2 * HOUR, T0 + 3 * HOUR, Decimal(5)),
        (T0 + 3 * HOUR, T0 + 3 * HOUR + 600, None),
    ]
    assert window_label(T0 + 1800, T0 + HOUR, "hour") == "2026-11-01 00:30"
    assert window_label(T0, T0 + DAY, "day") == "2026-11-01"
    assert window_label(T0 + 1800, T0 + DAY, "day") == "2026-11-01 00:30"
    assert window_label(T0, T0 + 7 * DAY, None) == "2026-11-01 – 2026-11-08"


def test_peak_is_the_first_greatest_window() -> None:
    rows = [ChartWindow(0, 1, Decimal(3)), ChartWindow(1, 2, None), ChartWindow(2, 3, Decimal(7)),
            ChartWindow(3, 4, Decimal(7))]  # fmt: skip
    assert peak_of(rows) == (rows[2], Decimal(7))
    assert peak_of([ChartWindow(0, 1, None)]) is None


# -- the command ---------------------------------------------------------------------------------


LATER = "2026-11-10T00:00:00Z"  # the clock of every command here: the week is past


@pytest.fixture
def week(billing):  # noqa: ANN001, ANN201 - the conftest runner
    """A meter whose product's unit_label is "tokens", one customer, the SENT events."""
    billing.json("meter", "create", "--id", "mtr_tokens", "--display-name", "API tokens",
                 "--event-name", "api_tokens", "--aggregation", "sum")  # fmt: skip
    billing.json("product", "create", "--id", "prod_api", "--name", "Alpaca API",
                 "--unit-label", "tokens")  # fmt: skip
    billing.json("price", "create", "--product", "prod_api", "--currency", "usd",
                 "--unit-amount-decimal", "0.04", "--interval", "month", "--usage-type",
                 "metered", "--meter", "mtr_tokens")  # fmt: skip
    billing.json("customer", "create", "--id", "cus_alpaca", "--name", "Alpaca AI")
    for at, value in SENT:
        billing.json("event", "send", "--event-name", "api_tokens", "--customer", "cus_alpaca",
                     "--value", value, "--timestamp", at, now=LATER)  # fmt: skip
    return billing


def _on_terminal(db: Path, columns: int, *args: str) -> str:
    """Run the CLI with stdout on a pseudo-terminal `columns` wide; returns what it drew."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "BILLING_NOW")}
    env.update(PYTHONPATH=str(ROOT), TERM="xterm-256color", NO_COLOR="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "billing_cli", "--db", str(db), "--now", LATER, *args],
        stdout=follower, stderr=subprocess.PIPE, env=env, cwd=ROOT,
    )  # fmt: skip
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the follower side closed: the process is done writing
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    text = b"".join(chunks).decode().replace("\r\n", "\n")
    return re.sub(r"\x1b\[[0-9;]*m", "", text)  # styles (bold, dim) are not what a reader sees


@pytest.mark.parametrize("columns", [80, 60])
def test_chart_on_a_terminal_fits_and_keeps_every_label(week, columns: int) -> None:  # noqa: ANN001
    drawn = _on_terminal(week.db, columns, "meter", "usage", "mtr_tokens", "--customer",
                         "cus_alpaca", *RANGE, "--window", "day", "--chart")  # fmt: skip
    lines = drawn.splitlines()
    assert all(len(line) <= columns for line in lines), drawn
    rows = {line[:10]: line for line in lines if line.startswith("2026-11-")}
    assert list(rows) == [f"2026-11-0{d}" for d in range(1, 8)], drawn  # every day, gaps too
    assert rows["2026-11-02"].rstrip().endswith(" 250.5")
    assert rows["2026-11-03"].rstrip().endswith(" –") and FULL not in rows["2026-11-03"]
    assert rows["2026-11-05"].rstrip().endswith(" 500")
    # Bars scale with the value: the peak's bar is the longest and fills the room left.
    widths = {day: sum(ch in "█▏▎▍▌▋▊▉" for ch in line) for day, line in rows.items()}
    assert widths["2026-11-05"] == max(widths.values()) == columns - 10 - len("250.5") - 2 * 2
    assert widths["2026-11-01"] < widths["2026-11-02"] < widths["2026-11-05"]
    assert "tokens per day" in drawn  # the axis in the meter's unit (the product's unit_label)
    assert "total: 850.5 tokens" in drawn
    assert "peak: 2026-11-05 (500 tokens)" in drawn


def test_chart_by_hour_labels_date_and_time(week) -> None:  # noqa: ANN001
    drawn = _on_terminal(week.db, 60, "meter", "usage", "mtr_tokens", "--customer", "cus_alpaca",
                         "--start", "2026-11-02T09:00:00Z", "--end", "2026-11-02T13:00:00Z",
                         "--window", "hour", "--chart")  # fmt: skip
    labels = [line[:16] for line in drawn.splitlines() if line.startswith("2026-11-02 ")]
    assert labels == ["2026-11-02 09:00", "2026-11-02 10:00", "2026-11-02 11:00",
                      "2026-11-02 12:00"]  # fmt: skip
    assert "peak: 2026-11-02 10:00 (250 tokens)" in drawn


def test_chart_off_a_terminal_prints_the_data_table(week) -> None:  # noqa: ANN001
    base = ("meter", "usage", "mtr_tokens", "--customer", "cus_alpaca", *RANGE, "--window", "day")
    plain = week(*base, now=LATER)
    charted = week(*base, "--chart", now=LATER)
    assert charted.exit_code == 0, charted.stderr
    assert charted.stdout == plain.stdout
    assert "█" not in charted.stdout and "250.5" in charted.stdout


@pytest.mark.parametrize("fmt", ["--json", "--csv"])
def test_chart_leaves_json_and_csv_plain(week, fmt: str) -> None:  # noqa: ANN001
    base = ("meter", "usage", "mtr_tokens", "--customer", "cus_alpaca", *RANGE, "--window", "day")
    assert week(*base, fmt, "--chart", now=LATER).stdout == week(*base, fmt, now=LATER).stdout
    drawn = _on_terminal(week.db, 80, *base, fmt, "--chart")
    assert "█" not in drawn and "250.5" in drawn


def test_chart_total_equals_meter_usage_without_window(week) -> None:  # noqa: ANN001
    whole = json_of(week("meter", "usage", "mtr_tokens", "--customer", "cus_alpaca", *RANGE,
                         "--json", now=LATER))  # fmt: skip
    drawn = _on_terminal(week.db, 80, "meter", "usage", "mtr_tokens", "--customer", "cus_alpaca",
                         *RANGE, "--window", "hour", "--chart")  # fmt: skip
    assert f"total: {whole['data'][0]['aggregated_value']} tokens" in drawn
