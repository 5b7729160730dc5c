"""`/v1/billing/meters`: create, list, retrieve, update, deactivate, reactivate, summaries."""

from __future__ import annotations

from collections.abc import Callable

from billing_cli.api import catalog, events
from billing_cli.api.context import Context
from billing_cli.http.endpoint import Action, Call, Reply, Spec
from billing_cli.http.forms import Params, param_error
from billing_cli.http.lists import listing, page_request
from billing_cli.present.stripe_json import meter_dict, meter_event_summary_dict

METER = "billing.meter"
ALIASES = {
    "display-name": "display_name",
    "event-name": "event_name",
    "aggregation": "default_aggregation[formula]",
    "customer-key": "customer_mapping[event_payload_key]",
    "value-key": "value_settings[event_payload_key]",
    "event-time-window": "event_time_window",
    "start": "start_time",
    "end": "end_time",
    "window": "value_grouping_window",
}


def create(call: Call) -> Action:
    p = call.params
    display_name = p.required("display_name")
    event_name = p.required("event_name")
    aggregation = p.sub("default_aggregation", required=True)
    assert aggregation is not None
    formula = aggregation.required("formula")
    customer_key = None
    if (mapping := p.sub("customer_mapping")) is not None:
        mapping.choice("type", ("by_id",), required=True)
        customer_key = mapping.required("event_payload_key")
    value_key = None
    if (settings := p.sub("value_settings")) is not None:
        value_key = settings.required("event_payload_key")
    window = p.text("event_time_window")

    def act(ctx: Context) -> Reply:
        meter = catalog.create_meter(
            ctx,
            display_name=display_name,
            event_name=event_name,
            aggregation=formula,
            customer_key=customer_key,
            value_key=value_key,
            event_time_window=window,
        )
        return 200, meter_dict(meter)

    return act


def list_all(call: Call) -> Action:
    p = call.params
    status = p.choice("status", ("active", "inactive"))
    page = page_request(p)

    def act(ctx: Context) -> Reply:
        meters = [m for m in catalog.list_meters(ctx) if status in (None, m.status)]
        return 200, listing(call.path, meters, page, meter_dict)

    return act


def retrieve(call: Call) -> Action:
    meter_id = call.path_param("id")
    return lambda ctx: (200, meter_dict(catalog.get_meter(ctx, meter_id)))


def update(call: Call) -> Action:
    meter_id = call.path_param("id")
    display_name = call.params.text("display_name")

    def act(ctx: Context) -> Reply:
        if display_name is None:  # Stripe: an update without changes answers the object
            return 200, meter_dict(catalog.get_meter(ctx, meter_id))
        return 200, meter_dict(catalog.update_meter(ctx, meter_id, display_name=display_name))

    return act


def _status(active: bool) -> Callable[[Call], Action]:
    def handler(call: Call) -> Action:
        meter_id = call.path_param("id")
        return lambda ctx: (
            200,
            meter_dict(catalog.set_meter_status(ctx, meter_id, active=active)),
        )

    return handler


def _time(p: Params, key: str) -> str:
    """Unix seconds, as Stripe takes them (the api layer checks minute boundaries)."""
    value = p.integer(key, minimum=0)
    if value is None:
        raise param_error(key, f"Missing required param: {key}.", code="parameter_missing")
    return str(value)


def event_summaries(call: Call) -> Action:
    p = call.params
    meter_id = call.path_param("id")
    customer = p.required("customer")
    start, end = _time(p, "start_time"), _time(p, "end_time")
    window = p.choice("value_grouping_window", ("hour", "day"))
    page = page_request(p)

    def act(ctx: Context) -> Reply:
        usage = events.meter_usage(
            ctx, meter_id, customer=customer, start=start, end=end, window=window
        )
        summaries = [
            meter_event_summary_dict(usage.meter.id, customer, w.start, w.end, w.aggregate)
            for w in reversed(usage.windows)  # newest first, as Stripe lists them
        ]
        return 200, listing(call.path, summaries, page, lambda s: s, key=lambda s: s["id"])

    return act


ROUTES: tuple[tuple[str, str, Spec], ...] = (
    ("POST", "/v1/billing/meters", Spec(create, aliases=ALIASES, kind=METER)),
    ("GET", "/v1/billing/meters", Spec(list_all, kind=METER, listed=True)),
    ("GET", "/v1/billing/meters/{id}", Spec(retrieve, kind=METER)),
    ("POST", "/v1/billing/meters/{id}", Spec(update, aliases=ALIASES, kind=METER)),
    ("POST", "/v1/billing/meters/{id}/deactivate", Spec(_status(active=False), kind=METER)),
    ("POST", "/v1/billing/meters/{id}/reactivate", Spec(_status(active=True), kind=METER)),
    (
        "GET",
        "/v1/billing/meters/{id}/event_summaries",
        Spec(event_summaries, aliases=ALIASES, kind="billing.meter_event_summary", listed=True),
    ),
)
