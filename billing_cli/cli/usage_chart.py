"""`billing meter usage --chart`: usage per window as horizontal bars for a person at a terminal.

Horizontal bars because a terminal is narrow and tall: one row per window keeps every label and
value whole at 60 columns, and only the bars shrink to what is left. Windows without events are
drawn as empty rows, so a gap in usage is as visible as a peak. Everything here is plain `Text`
(never markup), since the unit comes from a product's `unit_label`, which is stored user data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from billing_cli.api.events import UsageSummary
from billing_cli.cli.output import note
from billing_cli.clock import format_time
from billing_cli.present.amounts import decimal_str

HOUR = 3600
DAY = 86400
EIGHTHS = " ▏▎▍▌▋▊▉"  # a bar's last cell, in eighths of a character
FULL = "█"
NO_EVENTS = "–"
GAP = 2  # spaces between label, bar and value


@dataclass(frozen=True)
class ChartWindow:
    """One row: a window of the range and its aggregate (None when it holds no events)."""

    start: int
    end: int
    value: Decimal | None


def window_label(start: int, end: int, window: str | None) -> str:
    """A day as its date, an hour as date and time; a window cut by the range shows its start
    minute too, and the whole range (no --window) shows both ends."""
    text = format_time(start)
    day, clock = text[:10], text[11:16]
    if window is None:
        finish = format_time(end)
        if start % DAY == 0 and end % DAY == 0:
            return f"{day} – {finish[:10]}"
        return f"{day} {clock} – {finish[:10]} {finish[11:16]}"
    if window == "day" and start % DAY == 0:
        return day
    return f"{day} {clock}"


def every_window(
    found: Sequence[ChartWindow], start: int, end: int, window: str | None
) -> list[ChartWindow]:
    """The windows the summary reported, plus the empty ones between them (value None)."""
    if window is None:
        return list(found)
    size = HOUR if window == "hour" else DAY
    by_start = {w.start: w for w in found}
    rows = []
    at = start - start % size
    while at < end:
        lo, hi = max(at, start), min(at + size, end)
        rows.append(by_start.get(lo, ChartWindow(lo, hi, None)))
        at += size
    return rows


def bar(value: Decimal | None, peak: Decimal, width: int) -> str:
    """A bar of `width` cells at most, in eighths of a cell; empty for nothing or a negative."""
    if value is None or value <= 0 or peak <= 0 or width <= 0:
        return ""
    eighths = int(value * width * 8 / peak)  # floor: a bar never claims more than it has
    eighths = max(eighths, 1)  # any positive usage is visible
    whole, part = divmod(eighths, 8)
    return FULL * whole + (EIGHTHS[part] if part else "")


@dataclass(frozen=True)
class UsageChart:
    """What the chart says besides its rows: whose usage, in what unit, and the range's total."""

    title: str
    unit: str
    window: str | None
    total_label: str  # "total", or "last value" for a `last` meter
    total: Decimal


def peak_of(rows: Sequence[ChartWindow]) -> tuple[ChartWindow, Decimal] | None:
    """The first window holding the greatest value, and that value (None: no events at all)."""
    best: tuple[ChartWindow, Decimal] | None = None
    for row in rows:
        if row.value is not None and (best is None or row.value > best[1]):
            best = (row, row.value)
    return best


def render_chart(out: Any, chart: UsageChart, rows: Sequence[ChartWindow]) -> None:
    """Print the chart on a Rich console `out`, sized to `out.width`."""
    from rich.text import Text

    labels = [window_label(r.start, r.end, chart.window) for r in rows]
    values = [NO_EVENTS if r.value is None else decimal_str(r.value) for r in rows]
    peak = peak_of(rows)
    top = Decimal(0) if peak is None else peak[1]
    axis_name = "day (UTC)" if chart.window == "day" else "hour (UTC)"
    if chart.window is None:
        axis_name = "range (UTC)"
    label_w = max([len(axis_name), *map(len, labels)])
    value_w = max([1, *map(len, values)])
    bar_w = max(out.width - label_w - value_w - 2 * GAP, 1)
    per = f" per {chart.window}" if chart.window else ""

    out.print(Text(chart.title, style="bold"), no_wrap=False)
    out.print(Text(f"{axis_name:<{label_w}}{' ' * GAP}{chart.unit}{per}", style="dim"))
    for label, value, row in zip(labels, values, rows, strict=True):
        line = Text(f"{label:<{label_w}}{' ' * GAP}")
        line.append(f"{bar(row.value, top, bar_w):<{bar_w}}", style="cyan")
        line.append(f"{' ' * GAP}{value:>{value_w}}")
        out.print(line, no_wrap=True, overflow="ignore")
    scale = decimal_str(top)
    ticks = f"0{scale:>{max(bar_w - 1, len(scale))}}"
    out.print(Text(f"{'':<{label_w}}{' ' * GAP}{ticks}", style="dim"), no_wrap=True)
    out.print(Text(f"{chart.total_label}: {decimal_str(chart.total)} {chart.unit}"))
    if peak is not None:
        where = window_label(peak[0].start, peak[0].end, chart.window)
        out.print(Text(f"peak: {where} ({decimal_str(peak[1])} {chart.unit})"))
    else:
        out.print(Text("peak: none (no events in the range)"))


def draw_usage(summary: UsageSummary, window: str | None, *, title: str) -> None:
    """`meter usage --chart` on a terminal: every window of the range, then total and peak."""
    from billing_cli.cli.output import console

    found = [ChartWindow(w.start, w.end, w.aggregate.value) for w in summary.windows]
    if window is None:
        note("hint: add --window day (or hour) for a bar per window")
    chart = UsageChart(
        title=title,
        unit=summary.unit,
        window=window,
        total_label="last value" if summary.meter.formula == "last" else "total",
        total=summary.total.value,
    )
    render_chart(console(), chart, every_window(found, summary.start, summary.end, window))
