"""A subscription's service periods in Unix seconds (SPEC 1.4, 1.5, 3.3).

Period 0 runs from `start_date` to the first grid boundary: the anchor itself when it lies
after the start (a short first period, or a trial), else one interval after it. Every later
period is a grid period of the anchor. An ended subscription has no period after `ended_at`,
and its last one is cut at `ended_at`.
"""

from __future__ import annotations

from billing_cli.clock import from_unix, to_unix
from billing_cli.domain import periods
from billing_cli.domain.models import Subscription


def _boundary(sub: Subscription, j: int) -> int:
    anchor = from_unix(sub.billing_cycle_anchor)
    return to_unix(periods.step(anchor, sub.interval, sub.interval_count, j))


def _first_offset(sub: Subscription) -> int:
    return 0 if sub.billing_cycle_anchor > sub.start_date else 1


def period(sub: Subscription, k: int) -> tuple[int, int]:
    """Service period k (k ≥ 0) before any cut by cancellation."""
    j0 = _first_offset(sub)
    start = sub.start_date if k == 0 else _boundary(sub, j0 + k - 1)
    return start, _boundary(sub, j0 + k)


def period_index(sub: Subscription, t: int) -> int:
    """The k whose period holds t (0 for any t before the first boundary)."""
    if t < period(sub, 0)[1]:
        return 0
    anchor = from_unix(sub.billing_cycle_anchor)
    j = periods.period_index(anchor, sub.interval, sub.interval_count, from_unix(t))
    return j - _first_offset(sub) + 1


def cut(sub: Subscription, bounds: tuple[int, int]) -> tuple[int, int] | None:
    """Clip a period to the subscription's life; None when it starts at or after the end."""
    start, end = bounds
    if sub.ended_at is not None:
        if start >= sub.ended_at:
            return None
        end = min(end, sub.ended_at)
    return start, end


def current_period(sub: Subscription, now: int) -> tuple[int, int]:
    """The period holding `now`; for an ended subscription, its last period."""
    t = now if sub.ended_at is None else min(now, sub.ended_at - 1)
    bounds = cut(sub, period(sub, period_index(sub, max(t, sub.start_date))))
    assert bounds is not None
    return bounds


def ended_periods(sub: Subscription, now: int, first: int = 0) -> list[tuple[int, int]]:
    """Every period from index `first` on whose (cut) end is at or before `now`, oldest first.
    Callers that know the periods before `first` are invoiced start there: each step costs a
    calendar computation, and a daily subscription has a thousand periods in three years."""
    result: list[tuple[int, int]] = []
    k = first
    while True:
        bounds = cut(sub, period(sub, k))
        if bounds is None or bounds[1] > now:
            return result
        result.append(bounds)
        k += 1


def effective_status(sub: Subscription, now: int) -> str:
    """Status as of `now`: a trial ends and a cancellation at period end takes effect by time."""
    if sub.ended_at is not None and sub.ended_at <= now:
        return "canceled"
    if sub.status == "canceled":
        return "canceled"
    if sub.trial_end is not None and now < sub.trial_end:
        return "trialing"
    return "active"
