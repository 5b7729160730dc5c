"""Cursor pagination as Stripe's lists have it: `limit`, `starting_after`, `ending_before`.

Lists come newest first; a cursor is the id of an object of the list. `starting_after` pages
towards older objects, `ending_before` towards newer ones (the page still reads newest first),
and `has_more` says whether objects lie beyond the page in the direction of travel, which is
what Stripe's SDKs follow to iterate a whole list.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from billing_cli.errors import InvalidInput, UsageError

T = TypeVar("T")

DEFAULT_LIMIT = 10
MAX_LIMIT = 100


@dataclass(frozen=True)
class PageRequest:
    limit: int = DEFAULT_LIMIT
    starting_after: str | None = None
    ending_before: str | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    data: list[T]
    has_more: bool


def _position(ids: list[str], cursor: str, param: str) -> int:
    try:
        return ids.index(cursor)
    except ValueError:
        error = InvalidInput(
            f"{param} {cursor!r} is not in this list",
            hint="pass the id of an object from the previous page",
        )
        error.param = param
        error.code = "resource_missing"
        raise error from None


def paginate(items: Sequence[T], request: PageRequest, key: Callable[[T], str]) -> Page[T]:
    """One page of `items` (already in list order)."""
    if request.starting_after is not None and request.ending_before is not None:
        raise UsageError("starting_after and ending_before cannot be used together")
    if not 1 <= request.limit <= MAX_LIMIT:
        error = InvalidInput(f"limit {request.limit} is out of range", hint="use 1 to 100")
        error.param = "limit"
        raise error
    if request.starting_after is not None:
        start = _position([key(i) for i in items], request.starting_after, "starting_after")
        rest = items[start + 1 :]
        return Page(list(rest[: request.limit]), len(rest) > request.limit)
    if request.ending_before is not None:
        end = _position([key(i) for i in items], request.ending_before, "ending_before")
        before = items[:end]
        return Page(list(before[-request.limit :]), len(before) > request.limit)
    return Page(list(items[: request.limit]), len(items) > request.limit)
