"""Idempotency-Key as Stripe documents it, kept in the ledger, and the v2 meter event stream."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest
import stripe

from tests.serve_harness import KEY, running_server

NOW = "2026-11-01T09:00:00Z"
NOW_TS = 1793523600
AUTH = {"Authorization": f"Bearer {KEY}"}
METER = {"display_name": "Tokens", "event_name": "tokens", "default_aggregation[formula]": "sum"}


def _count(db: Path, table: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_same_key_same_params_replays_the_first_answer(tmp_path: Path) -> None:
    db = tmp_path / "b.db"
    with running_server(db, now=NOW) as server:
        headers = {**AUTH, "Idempotency-Key": "create-tokens-meter"}
        first = httpx.post(f"{server.url}/v1/billing/meters", data=METER, headers=headers)
        again = httpx.post(f"{server.url}/v1/billing/meters", data=METER, headers=headers)
        assert first.status_code == again.status_code == 200
        assert "idempotent-replayed" not in first.headers
        assert again.headers["idempotent-replayed"] == "true"
        assert again.content == first.content
        assert again.headers["request-id"] != first.headers["request-id"]
        assert _count(db, "meters") == 1
        # a different key makes a new request (which conflicts: the event name is taken)
        other = httpx.post(
            f"{server.url}/v1/billing/meters", data=METER, headers={**AUTH, "Idempotency-Key": "x"}
        )
        assert other.status_code == 409


def test_same_key_other_params_is_an_idempotency_error(tmp_path: Path) -> None:
    with running_server(tmp_path / "b.db", now=NOW) as server:
        client = server.client()
        options = {"idempotency_key": "one-key"}
        client.v1.customers.create({"name": "Max"}, options)  # type: ignore[arg-type]
        with pytest.raises(stripe.IdempotencyError) as raised:
            client.v1.customers.create({"name": "Erika"}, options)  # type: ignore[arg-type]
        assert raised.value.http_status == 400
        assert raised.value.error.type == "idempotency_error"
        with pytest.raises(stripe.IdempotencyError):  # another endpoint, same key
            client.v1.products.create({"name": "Max"}, options)  # type: ignore[arg-type]
        assert [c.name for c in client.v1.customers.list().data] == ["Max"]


def test_errors_from_execution_are_stored_validation_failures_are_not(tmp_path: Path) -> None:
    db = tmp_path / "b.db"
    with running_server(db, now=NOW) as server:
        url = f"{server.url}/v1/billing/meters"
        headers = {**AUTH, "Idempotency-Key": "k1"}
        bad = httpx.post(
            url, data={**METER, "default_aggregation[formula]": "avg"}, headers=headers
        )
        assert bad.status_code == 400
        good = httpx.post(url, data=METER, headers=headers)  # the key was not used up
        assert good.status_code == 200 and "idempotent-replayed" not in good.headers
        missing = f"{server.url}/v1/billing/meters/mtr_missing/deactivate"
        headers = {**AUTH, "Idempotency-Key": "k2"}
        first = httpx.post(missing, headers=headers)
        replay = httpx.post(missing, headers=headers)
        assert first.status_code == replay.status_code == 404
        assert replay.headers["idempotent-replayed"] == "true"
        assert replay.content == first.content


def test_keys_are_kept_24_hours_then_pruned(tmp_path: Path) -> None:
    db = tmp_path / "b.db"
    options = {"idempotency_key": "daily"}
    with running_server(db, now=NOW) as server:
        server.client().v1.customers.create({"name": "Max"}, options)  # type: ignore[arg-type]
    assert _count(db, "idempotency_keys") == 1
    with running_server(db, now="2026-11-02T08:59:59Z") as server:
        with pytest.raises(stripe.IdempotencyError):
            server.client().v1.customers.create({"name": "Erika"}, options)  # type: ignore[arg-type]
    with running_server(db, now="2026-11-02T09:00:01Z") as server:
        erika = server.client().v1.customers.create({"name": "Erika"}, options)  # type: ignore[arg-type]
        assert erika.name == "Erika"
    assert _count(db, "customers") == 2
    assert _count(db, "idempotency_keys") == 1


def test_a_key_longer_than_255_is_refused(tmp_path: Path) -> None:
    with running_server(tmp_path / "b.db", now=NOW) as server:
        response = httpx.post(
            f"{server.url}/v1/customers",
            data={"name": "x"},
            headers={**AUTH, "Idempotency-Key": "k" * 256},
        )
        assert response.status_code == 400
        assert "255" in response.json()["error"]["message"]


def test_the_sdk_retry_after_a_lost_answer_creates_once(tmp_path: Path) -> None:
    """The SDK sends a fresh Idempotency-Key with every POST; replaying the same raw request
    (what a retry after a dropped connection does) must not create a second object."""
    db = tmp_path / "b.db"
    with running_server(db, now=NOW) as server:
        headers = {**AUTH, "Idempotency-Key": "retry-me"}
        body = {"name": "Retry", "email": "r@example.com", "metadata[plan]": "pro"}
        answers = [httpx.post(f"{server.url}/v1/customers", data=body, headers=headers)
                   for _ in range(3)]  # fmt: skip
        assert len({a.json()["id"] for a in answers}) == 1
        assert _count(db, "customers") == 1


# -- v2 meter event stream --------------------------------------------------------------------


def _catalog(client: stripe.StripeClient) -> str:
    client.v1.billing.meters.create(
        {
            "display_name": "Tokens",
            "event_name": "tokens",
            "default_aggregation": {"formula": "sum"},
        }
    )
    return client.v1.customers.create({"name": "Max"}).id


def test_v2_session_and_stream(tmp_path: Path) -> None:
    db = tmp_path / "b.db"
    with running_server(db, now=NOW) as server:
        client = server.client()
        customer = _catalog(client)
        session = client.v2.billing.meter_event_session.create()
        assert session.object == "v2.billing.meter_event_session"
        assert session.expires_at == "2026-11-01T09:15:00.000Z"
        stream = server.client(session.authentication_token)
        events = [
            {
                "event_name": "tokens",
                "identifier": f"s-{i}",
                "timestamp": "2026-11-01T08:30:00.000Z",
                "payload": {"stripe_customer_id": customer, "value": "10"},
            }
            for i in range(100)
        ]
        assert stream.v2.billing.meter_event_stream.create({"events": events}) is None
        stream.v2.billing.meter_event_stream.create({"events": events})  # duplicates: no-ops
        assert _count(db, "meter_events") == 100
        with pytest.raises(stripe.InvalidRequestError):  # at most 100 a request
            stream.v2.billing.meter_event_stream.create(
                {"events": [{**events[0], "identifier": f"x-{i}"} for i in range(101)]}
            )
        # the secret key is not a session token, and a session token is not a key
        with pytest.raises(stripe.TemporarySessionExpiredError):
            client.v2.billing.meter_event_stream.create({"events": events[:1]})
        with pytest.raises(stripe.AuthenticationError):
            stream.v1.customers.list()


def test_v2_stream_is_all_or_nothing_and_names_the_bad_event(tmp_path: Path) -> None:
    db = tmp_path / "b.db"
    with running_server(db, now=NOW) as server:
        client = server.client()
        customer = _catalog(client)
        token = client.v2.billing.meter_event_session.create().authentication_token
        good = {"event_name": "tokens", "payload": {"stripe_customer_id": customer, "value": "1"}}
        bad = {
            "event_name": "tokens",
            "payload": {"stripe_customer_id": "cus_nobody", "value": "1"},
        }
        with pytest.raises(stripe.InvalidRequestError) as raised:
            server.client(token).v2.billing.meter_event_stream.create(
                {"events": [good, good, bad, good]}  # type: ignore[list-item]
            )
        assert raised.value.param == "events[2].payload[stripe_customer_id]"
        assert raised.value.error.code == "meter_event_customer_not_found"
        assert _count(db, "meter_events") == 0


def test_v2_unknown_token_is_a_session_expired_error(tmp_path: Path) -> None:
    with running_server(tmp_path / "b.db", now=NOW) as server:
        with pytest.raises(stripe.TemporarySessionExpiredError) as raised:
            server.client("mest_not_a_token").v2.billing.meter_event_stream.create(
                {"events": [{"event_name": "x", "payload": {"value": "1"}}]}
            )
        assert raised.value.http_status == 401


def test_a_stored_conflict_leaves_none_of_its_request_behind(tmp_path: Path) -> None:
    """A 409 is an answer, kept under its key; the events of the batch stored before the
    conflict was found are rolled back with it, and the retry replays the 409."""
    db = tmp_path / "b.db"
    with running_server(db, now=NOW) as server:
        client = server.client()
        customer = _catalog(client)
        token = client.v2.billing.meter_event_session.create().authentication_token
        first = {
            "event_name": "tokens",
            "identifier": "taken",
            "timestamp": "2026-11-01T08:30:00.000Z",
            "payload": {"stripe_customer_id": customer, "value": "1"},
        }
        server.client(token).v2.billing.meter_event_stream.create({"events": [first]})
        fresh = {**first, "identifier": "fresh"}
        clash = {**first, "payload": {"stripe_customer_id": customer, "value": "2"}}
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "k-conflict"}
        answers = [
            httpx.post(
                f"{server.url}/v2/billing/meter_event_stream",
                json={"events": [fresh, clash]},
                headers=headers,
            )
            for _ in range(2)
        ]
    assert [a.status_code for a in answers] == [409, 409]
    assert answers[0].json()["error"]["code"] == "identifier_conflict"
    assert answers[1].headers.get("Idempotent-Replayed") == "true"
    assert answers[1].json() == answers[0].json()
    assert _count(db, "meter_events") == 1
    with sqlite3.connect(db) as conn:
        kept = conn.execute("SELECT status FROM idempotency_keys WHERE key = 'k-conflict'")
        assert kept.fetchall() == [(409,)]
