"""The meter page's bar chart, laid out on the server as numbers for an SVG template.

Server-side SVG needs no script (the CSP forbids inline ones and the issue wants no build step),
scales with the page through its viewBox, and can be read back by a test: one `<rect>` per
window with events, carrying its window and value as data attributes. Coordinates are plain
numbers for drawing only; every value shown as text is the exact Decimal's canonical string.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from billing_cli.clock import format_time
from billing_cli.present.amounts import decimal_str

WIDTH = 960  # viewBox units; the CSS scales the chart to the page's width
HEIGHT = 300
LEFT = 64  # room for the value axis' labels
RIGHT = 8
TOP = 12
BOTTOM = 28  # room for the time axis' labels
TICKS = 4
MAX_TIME_LABELS = 6


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    start: int
    end: int
    value: str  # exact, as `billing meter usage` prints aggregated_value
    label: str  # the window, for the tooltip


@dataclass(frozen=True)
class Tick:
    at: float  # y for the value axis, x for the time axis
    label: str


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    bars: list[Bar]
    value_ticks: list[Tick]
    time_ticks: list[Tick]
    baseline: float  # y of zero
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int


def window_label(start: int, window: str) -> str:
    text = format_time(start)
    return text[:10] if window == "day" and start % 86400 == 0 else f"{text[:10]} {text[11:16]}"


def nice_top(peak: Decimal) -> Decimal:
    """The smallest 1, 2, 2.5 or 5 × 10^k at or above `peak`, so axis labels read round."""
    if peak <= 0:
        return Decimal(1)
    power = Decimal(10) ** (peak.adjusted())
    for step in (1, 2, Decimal("2.5"), 5, 10):
        if peak <= power * step:
            return power * step
    return power * 10  # unreachable: peak < 10 × 10^adjusted


def bar_chart(
    windows: Sequence[tuple[int, int, Decimal]], start: int, end: int, window: str
) -> BarChart:
    """Bars for the windows with events in [start, end), placed on a time axis of every window
    (so gaps show) and a value axis from min(0, lowest) to a round number above the peak."""
    size = 3600 if window == "hour" else 86400
    first = start - start % size
    slots = max((end - first + size - 1) // size, 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot_w = plot_w / slots
    values = [v for _, _, v in windows]
    top = nice_top(max([Decimal(0), *values]))
    low = min([Decimal(0), *values])
    bottom = -nice_top(-low) if low < 0 else Decimal(0)
    span = top - bottom

    def y_of(value: Decimal) -> float:
        return TOP + float((top - value) / span) * plot_h

    zero = y_of(Decimal(0))
    bars = []
    for lo, hi, value in windows:
        x = LEFT + ((lo - first) // size) * slot_w
        y = y_of(value)
        bars.append(
            Bar(
                x=round(x + slot_w * 0.1, 2),
                y=round(min(y, zero), 2),
                width=round(max(slot_w * 0.8, 0.5), 2),
                height=round(max(abs(zero - y), 0.5), 2),  # a zero window is still marked
                start=lo,
                end=hi,
                value=decimal_str(value),
                label=window_label(lo, window),
            )
        )
    value_ticks = [
        Tick(round(y_of(bottom + span * i / TICKS), 2), decimal_str(bottom + span * i / TICKS))
        for i in range(TICKS + 1)
    ]
    every = max(-(-slots // MAX_TIME_LABELS), 1)
    time_ticks = [
        Tick(round(LEFT + (i + 0.5) * slot_w, 2), window_label(first + i * size, window)[5:])
        for i in range(0, slots, every)
    ]
    return BarChart(
        width=WIDTH,
        height=HEIGHT,
        bars=bars,
        value_ticks=value_ticks,
        time_ticks=time_ticks,
        baseline=round(zero, 2),
        plot_left=LEFT,
        plot_right=WIDTH - RIGHT,
        plot_top=TOP,
        plot_bottom=HEIGHT - BOTTOM,
    )
