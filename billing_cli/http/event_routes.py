"""Usage in: v1 meter events and adjustments, the v2 meter event session and stream.

v1 `POST /v1/billing/meter_events` is `billing event send`; the v2 stream sends up to 100
events in one request and one transaction (`api.event_batch.send_events`). Stripe validates
stream events later and reports failures by webhook; a local ledger has no webhooks, so a
stream request is validated at once and applied whole or not at all: its error names the
first bad event (`events[3].payload`), and the client fixes that event and resends the batch
(identifiers make the resend safe).
"""

from __future__ import annotations

from billing_cli.api import event_batch, events
from billing_cli.api.context import Context
from billing_cli.clock import format_time, to_unix
from billing_cli.http.endpoint import Action, Call, Reply, Spec
from billing_cli.http.forms import param_error
from billing_cli.present.stripe_json import meter_event_adjustment_dict, meter_event_dict

MAX_STREAM_EVENTS = 100

ALIASES = {"event-name": "event_name", "identifier": "identifier", "timestamp": "timestamp"}


def create_event(call: Call) -> Action:
    p = call.params
    event_name = p.required("event_name", max_len=100)
    payload = p.strings("payload")
    if not payload:
        raise param_error("payload", "Missing required param: payload.", code="parameter_missing")
    identifier = p.text("identifier", max_len=100)
    timestamp = p.integer("timestamp", minimum=0)

    def act(ctx: Context) -> Reply:
        sent = events.send_event(
            ctx,
            event_name=event_name,
            payload=payload,
            identifier=identifier,
            timestamp=None if timestamp is None else str(timestamp),
        )
        return 200, meter_event_dict(sent.event)

    return act


def create_adjustment(call: Call) -> Action:
    p = call.params
    event_name = p.required("event_name", max_len=100)
    p.choice("type", ("cancel",), required=True)
    cancel = p.sub("cancel", required=True)
    assert cancel is not None
    identifier = cancel.required("identifier", max_len=100)

    def act(ctx: Context) -> Reply:
        done = events.cancel_event(ctx, event_name=event_name, identifier=identifier)
        return 200, meter_event_adjustment_dict(done.event)

    return act


def _v2_time(ts: int) -> str:
    """v2 timestamps are RFC 3339 text with milliseconds, as Stripe writes them."""
    return format_time(ts).replace("Z", ".000Z")


def create_session(call: Call) -> Action:
    sessions = call.server.sessions

    def act(ctx: Context) -> Reply:
        session = sessions.create(to_unix(ctx.now))
        return 200, {
            "id": session.id,
            "object": "v2.billing.meter_event_session",
            "authentication_token": session.token,
            "created": _v2_time(session.created),
            "expires_at": _v2_time(session.expires_at),
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
        payload = p.strings("payload")
        if not payload:
            raise param_error(
                p.name("payload"),
                f"Missing required param: {p.name('payload')}.",
                code="parameter_missing",
            )
        batch.append(
            event_batch.BatchEvent(
                event_name=p.required("event_name", max_len=100),
                payload=payload,
                identifier=p.text("identifier", max_len=100),
                timestamp=p.text("timestamp", max_len=64),
            )
        )

    def act(ctx: Context) -> Reply:
        event_batch.send_events(ctx, batch)
        return 200, {}

    return act


ROUTES: tuple[tuple[str, str, Spec], ...] = (
    ("POST", "/v1/billing/meter_events", Spec(create_event, aliases=ALIASES)),
    ("POST", "/v1/billing/meter_event_adjustments", Spec(create_adjustment, aliases=ALIASES)),
    ("POST", "/v2/billing/meter_event_session", Spec(create_session, json_body=True)),
    (
        "POST",
        "/v2/billing/meter_event_stream",
        Spec(stream, json_body=True, session_auth=True, aliases=ALIASES),
    ),
)
