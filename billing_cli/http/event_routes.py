"""Usage in: v1 and v2 meter events and adjustments, the v2 meter event session and stream.

v1 `POST /v1/billing/meter_events` and v2 `POST /v2/billing/meter_events` (JSON, RFC 3339
times) are `billing event send`; the adjustments are `billing event cancel`; the v2 stream
sends up to 100 events in one request and one transaction (`api.event_batch.send_events`).
Stripe validates stream events later and reports failures by webhook; a local ledger has no
webhooks, so a stream request is validated at once and applied whole or not at all: its error
names the first bad event (`events[3].payload`), and the client fixes that event and resends
the batch (identifiers make the resend safe).
"""

from __future__ import annotations

from collections.abc import Callable

from billing_cli.api import event_batch, events
from billing_cli.api.context import Context
from billing_cli.clock import to_unix
from billing_cli.http.endpoint import Action, Call, Reply, Spec
from billing_cli.http.forms import Params, param_error
from billing_cli.present.stripe_json import (
    meter_event_adjustment_dict,
    meter_event_dict,
    v2_meter_event_adjustment_dict,
    v2_meter_event_dict,
    v2_time,
)

MAX_STREAM_EVENTS = 100

ALIASES = {"event-name": "event_name", "identifier": "identifier", "timestamp": "timestamp"}


def _payload(p: Params) -> dict[str, str]:
    payload = p.strings("payload")
    if not payload:
        raise param_error(
            p.name("payload"),
            f"Missing required param: {p.name('payload')}.",
            code="parameter_missing",
        )
    return payload


def _event(v2: bool) -> Callable[[Call], Action]:
    """One meter event: v1 (form, Unix seconds) or v2 `/v2/billing/meter_events` (JSON,
    RFC 3339 times), both validated at once and stored by `billing event send`'s use case."""

    def handler(call: Call) -> Action:
        p = call.params
        event_name = p.required("event_name", max_len=100)
        payload = _payload(p)
        identifier = p.text("identifier", max_len=100)
        if v2:
            timestamp = p.text("timestamp", max_len=64)
        else:
            seconds = p.integer("timestamp", minimum=0)
            timestamp = None if seconds is None else str(seconds)
        render = v2_meter_event_dict if v2 else meter_event_dict

        def act(ctx: Context) -> Reply:
            sent = events.send_event(
                ctx,
                event_name=event_name,
                payload=payload,
                identifier=identifier,
                timestamp=timestamp,
            )
            return 200, render(sent.event)

        return act

    return handler


def _adjustment(v2: bool) -> Callable[[Call], Action]:
    """A cancellation, v1 or v2 (`/v2/billing/meter_event_adjustments`): `billing event
    cancel`'s use case; cancelling an event twice answers the first cancellation."""

    def handler(call: Call) -> Action:
        p = call.params
        event_name = p.required("event_name", max_len=100)
        p.choice("type", ("cancel",), required=True)
        cancel = p.sub("cancel", required=True)
        assert cancel is not None
        identifier = cancel.required("identifier", max_len=100)

        def act(ctx: Context) -> Reply:
            done = events.cancel_event(ctx, event_name=event_name, identifier=identifier)
            if v2:
                return 200, v2_meter_event_adjustment_dict(done.event, to_unix(ctx.now))
            return 200, meter_event_adjustment_dict(done.event)

        return act

    return handler


def create_session(call: Call) -> Action:
    sessions = call.server.sessions

    def act(ctx: Context) -> Reply:
        session = sessions.create(to_unix(ctx.now))
        return 200, {
            "id": session.id,
            "object": "v2.billing.meter_event_session",
            "authentication_token": session.token,
            "created": v2_time(session.created),
            "expires_at": v2_time(session.expires_at),
            "livemode": False,
        }

    return act


def stream(call: Call) -> Action:
    items = list(call.params.hashes("events"))
    if not items:
        raise param_error("events", "Missing required param: events.", code="parameter_missing")
    if len(items) > MAX_STREAM_EVENTS:
        raise param_error("events", f"{len(items)} events were sent; a request holds at most 100")
    batch: list[event_batch.BatchEvent] = []
    for p in items:
        payload = _payload(p)
        batch.append(
            event_batch.BatchEvent(
                event_name=p.required("event_name", max_len=100),
                payload=payload,
                identifier=p.text("identifier", max_len=100),
                timestamp=p.text("timestamp", max_len=64),
            )
        )
    call.params.done()  # an unknown parameter is named before a bad timestamp, as ever
    prepared = event_batch.prepare_events(batch)  # outside the write lock

    def act(ctx: Context) -> Reply:
        event_batch.send_events(ctx, prepared)
        return 200, {}

    return act


ROUTES: tuple[tuple[str, str, Spec], ...] = (
    ("POST", "/v1/billing/meter_events", Spec(_event(v2=False), aliases=ALIASES)),
    ("POST", "/v1/billing/meter_event_adjustments", Spec(_adjustment(v2=False), aliases=ALIASES)),
    ("POST", "/v2/billing/meter_events", Spec(_event(v2=True), json_body=True, aliases=ALIASES)),
    (
        "POST",
        "/v2/billing/meter_event_adjustments",
        Spec(_adjustment(v2=True), json_body=True, aliases=ALIASES),
    ),
    ("POST", "/v2/billing/meter_event_session", Spec(create_session, json_body=True)),
    (
        "POST",
        "/v2/billing/meter_event_stream",
        Spec(stream, json_body=True, session_auth=True, aliases=ALIASES),
    ),
)
