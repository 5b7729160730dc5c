"""List endpoints: read Stripe's pagination parameters, answer with Stripe's list object."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from billing_cli.api.pagination import MAX_LIMIT, PageRequest, paginate
from billing_cli.http.forms import Params
from billing_cli.present.stripe_json import list_object

T = TypeVar("T")


def page_request(p: Params) -> PageRequest:
    limit = p.integer("limit", minimum=1, maximum=MAX_LIMIT)
    return PageRequest(
        limit=10 if limit is None else limit,
        starting_after=p.text("starting_after", max_len=255),
        ending_before=p.text("ending_before", max_len=255),
    )


def listing(
    url: str,
    items: Sequence[T],
    request: PageRequest,
    render: Callable[[T], dict[str, Any]],
    key: Callable[[T], str] = lambda item: item.id,  # type: ignore[attr-defined]
) -> dict[str, Any]:
    """One page of `items` (in list order: newest first) as `{"object": "list", …}`."""
    page = paginate(items, request, key)
    return list_object([render(item) for item in page.data], has_more=page.has_more, url=url)
