"""`billing serve` with the official Stripe SDK: start and stop, keys, errors, meters, events.

One server per module (start-up is the slow part); each test uses its own ids.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import stripe

from tests.serve_harness import KEY, billing_env, running_server

NOW = "2026-11-01T09:00:00Z"
NOW_TS = 1793523600


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    db = tmp_path_factory.mktemp("serve") / "billing.db"
    with running_server(db, now=NOW) as running:
        yield running
    assert running.returncode == 0, running.stderr


@pytest.fixture(scope="module")
def client(server) -> stripe.StripeClient:
    return server.client()


def _meter(client: stripe.StripeClient, event_name: str, **extra: object):
    return client.v1.billing.meters.create(
        {
            "display_name": f"Meter {event_name}",
            "event_name": event_name,
            "default_aggregation": {"formula": "sum"},
            **extra,  # type: ignore[typeddict-item]
        }
    )


def _customer(client: stripe.StripeClient, name: str = "Max"):
    return client.v1.customers.create({"name": name, "email": "max@example.com"})


# -- start, stop, keys ------------------------------------------------------------------------


def test_sigterm_and_sigint_exit_zero(tmp_path: Path) -> None:
    for signum in (signal.SIGTERM, signal.SIGINT):
        with running_server(tmp_path / "b.db") as running:
            running.client().v1.billing.meters.list()
            assert running.stop(signum) == 0, running.stderr
        assert "Traceback" not in running.stderr
        assert "stopped" in running.stderr


def test_without_a_key_one_is_generated_and_printed(tmp_path: Path) -> None:
    with running_server(tmp_path / "b.db", keys=()) as running:
        printed = [line for line in running.stderr.splitlines() if "sk_test_" in line]
        assert len(printed) == 1, running.stderr
        key = printed[0].rsplit(" ", 1)[-1]
        assert key.startswith("sk_test_") and len(key) > 20
        assert running.client(key).v1.billing.meters.list().data == []
        with pytest.raises(stripe.AuthenticationError):
            running.client(KEY).v1.billing.meters.list()


def test_keys_from_the_environment(tmp_path: Path) -> None:
    env = billing_env(BILLING_API_KEYS="sk_test_first_key_1, sk_test_second_key_2")
    with running_server(tmp_path / "b.db", keys=(), env=env) as running:
        assert "use this one" not in running.stderr
        for key in ("sk_test_first_key_1", "sk_test_second_key_2"):
            assert running.client(key).v1.customers.list().data == []


def test_wrong_or_missing_key_is_401_in_stripes_envelope(server, client) -> None:
    with pytest.raises(stripe.AuthenticationError) as raised:
        server.client("sk_test_wrong_key_0000").v1.billing.meters.list()
    assert raised.value.http_status == 401
    assert "Invalid API Key" in str(raised.value.user_message)
    for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Basic abc"}):
        response = httpx.get(f"{server.url}/v1/billing/meters", headers=headers)
        assert response.status_code == 401
        error = response.json()["error"]
        assert set(error) == {"type", "code", "message", "param"}
        assert response.headers["request-id"].startswith("req_")


def test_basic_auth_with_the_key_as_user_name_as_stripes_curl_examples(server) -> None:
    """`curl -u sk_test_…: URL` (every curl example in Stripe's reference) sends the key as
    the HTTP Basic user name with an empty password; before, that was a 401."""
    url = f"{server.url}/v1/billing/meters"
    assert httpx.get(url, auth=(KEY, "")).status_code == 200
    assert httpx.get(url, auth=(KEY, "ignored")).status_code == 200
    for auth in (("sk_test_wrong_key_0000", ""), ("", KEY)):
        response = httpx.get(url, auth=auth)
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "invalid_request_error"


def test_every_response_carries_a_request_id(server) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    seen = set()
    for method, path in (
        ("GET", "/v1/billing/meters"),
        ("GET", "/v1/billing/meters/mtr_missing"),
        ("GET", "/v1/no_such_thing"),
        ("PUT", "/v1/billing/meters"),
        ("POST", "/v1/billing/meters"),
    ):
        response = httpx.request(method, f"{server.url}{path}", headers=auth)
        request_id = response.headers.get("request-id", "")
        assert request_id.startswith("req_"), (method, path)
        seen.add(request_id)
        if response.status_code >= 400:
            assert set(response.json()["error"]) == {"type", "code", "message", "param"}
    assert len(seen) == 5
    unknown = httpx.get(f"{server.url}/v1/no_such_thing", headers=auth)
    assert unknown.status_code == 404
    assert "Unrecognized request URL" in unknown.json()["error"]["message"]


def test_frozen_clock_and_startup_line(server, client) -> None:
    assert "clock frozen at 2026-11-01T09:00:00Z" in server.stderr
    meter = _meter(client, "frozen_clock")
    assert meter.created == NOW_TS


def test_port_in_use_is_one_error_line(tmp_path: Path, server) -> None:
    port = server.url.rsplit(":", 1)[1]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "billing_cli",
            "--db",
            str(tmp_path / "b.db"),
            "serve",
            "--port",
            port,
            "--api-key",
            KEY,
        ],
        capture_output=True,
        text=True,
        env=billing_env(),
        timeout=60,
    )
    assert result.returncode == 4, result.stderr
    assert result.stderr.startswith("error: cannot listen on 127.0.0.1:")
    assert "Traceback" not in result.stderr


# -- meters -----------------------------------------------------------------------------------


def test_meter_lifecycle(client) -> None:
    meter = _meter(
        client,
        "alpaca_ai_tokens",
        customer_mapping={"type": "by_id", "event_payload_key": "stripe_customer_id"},
        value_settings={"event_payload_key": "value"},
    )
    assert isinstance(meter, stripe.billing.Meter)
    assert meter.id.startswith("mtr_")
    assert meter.default_aggregation.formula == "sum"
    assert meter.customer_mapping.event_payload_key == "stripe_customer_id"
    assert meter.status == "active" and meter.status_transitions.deactivated_at is None
    assert client.v1.billing.meters.retrieve(meter.id).to_dict() == meter.to_dict()
    renamed = client.v1.billing.meters.update(meter.id, {"display_name": "Alpaca AI tokens"})
    assert renamed.display_name == "Alpaca AI tokens"
    off = client.v1.billing.meters.deactivate(meter.id)
    assert off.status == "inactive" and off.status_transitions.deactivated_at == NOW_TS
    inactive_ids = [m.id for m in client.v1.billing.meters.list({"status": "inactive"}).data]
    assert meter.id in inactive_ids
    assert client.v1.billing.meters.reactivate(meter.id).status == "active"


def test_list_pagination_follows_cursors(client) -> None:
    created = [_meter(client, f"paged_{i:02d}").id for i in range(12)]
    page = client.v1.billing.meters.list({"limit": 5})
    assert len(page.data) == 5 and page.has_more and page.url == "/v1/billing/meters"
    everything = [m.id for m in page.auto_paging_iter()]
    assert len(everything) == len(set(everything))
    assert set(created) <= set(everything)
    second = client.v1.billing.meters.list({"limit": 5, "starting_after": page.data[-1].id})
    back = client.v1.billing.meters.list({"limit": 5, "ending_before": second.data[0].id})
    assert [m.id for m in back.data] == [m.id for m in page.data]


def test_invalid_parameters_name_the_param(client) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        _meter(client, "bad formula", default_aggregation={"formula": "avg"})
    assert raised.value.http_status == 400
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.billing.meters.create(
            {
                "display_name": "x",
                "event_name": "ok_name",
                "default_aggregation": {"formula": "avg"},
            }
        )
    assert raised.value.param == "default_aggregation[formula]"
    assert "--" not in raised.value.user_message
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.billing.meters.create({"display_name": "x", "event_name": "y"})  # type: ignore[typeddict-item]
    assert raised.value.param == "default_aggregation"
    assert raised.value.code == "parameter_missing"
    with pytest.raises(stripe.InvalidRequestError) as raised:
        _meter(client, "unknown_param", colour="blue")
    assert raised.value.code == "parameter_unknown" and raised.value.param == "colour"


def test_a_json_body_on_a_v1_route_says_to_form_encode_it(server, client) -> None:
    """v1 takes form-encoded parameters, as Stripe's does; a JSON body used to come back as
    one unknown parameter named by the whole JSON text. Now one 400 says what to send, and
    nothing is created."""
    before = len(client.v1.customers.list({"limit": 100}).data)
    response = httpx.post(f"{server.url}/v1/customers", json={"name": "Max"}, auth=(KEY, ""))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == "body"
    assert "form-encoded" in error["message"] and "v2" in error["message"]
    assert len(client.v1.customers.list({"limit": 100}).data) == before
    form = httpx.post(f"{server.url}/v1/customers", data={"name": "Max"}, auth=(KEY, ""))
    assert form.status_code == 200 and form.json()["name"] == "Max"


def test_missing_object_is_404_resource_missing(client) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.billing.meters.retrieve("mtr_does_not_exist")
    assert raised.value.http_status == 404
    assert raised.value.code == "resource_missing"


def test_a_missing_object_names_the_parameter_that_named_it(server, client) -> None:
    """Stripe's 404 says which parameter held the unknown id (`id` for the path's); before,
    `param` was null whatever named it."""
    customer = _customer(client)
    cases = [
        (lambda: client.v1.customers.retrieve("cus_nobody"), "id"),
        (lambda: client.v1.invoices.create_preview({"customer": "cus_nobody"}), "customer"),
        (
            lambda: client.v1.subscriptions.create(
                {"customer": customer.id, "items": [{"price": "price_nothing"}]}
            ),
            "items[0][price]",
        ),
        (
            lambda: client.v1.billing.meter_event_adjustments.create(
                {"event_name": "api_calls", "type": "cancel", "cancel": {"identifier": "gone"}}
            ),
            "cancel[identifier]",
        ),
    ]
    for call, param in cases:
        with pytest.raises(stripe.InvalidRequestError) as raised:
            call()
        assert (raised.value.http_status, raised.value.code) == (404, "resource_missing")
        assert raised.value.param == param
    # and in Stripe's words (the CLI keeps its own: "no customer 'cus_nobody'")
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.customers.retrieve("cus_nobody")
    assert raised.value.user_message == "No such customer: 'cus_nobody'"
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.billing.meters.retrieve("mtr_nothing")
    assert raised.value.user_message == "No such meter: 'mtr_nothing'"
    # the answer kept for an Idempotency-Key says the same when it is replayed
    for _ in range(2):
        with pytest.raises(stripe.InvalidRequestError) as raised:
            client.v1.invoices.create_preview(
                {"customer": "cus_nobody"}, {"idempotency_key": "missing-customer"}
            )
        assert raised.value.param == "customer"
    assert raised.value.headers.get("Idempotent-Replayed") == "true"


def test_conflict_is_409_and_not_retried(server) -> None:
    client = server.client(max_network_retries=2)
    meter = _meter(client, "conflicted")
    client.v1.billing.meters.deactivate(meter.id)
    with pytest.raises(stripe.APIError) as raised:
        client.v1.billing.meters.deactivate(meter.id)
    assert raised.value.http_status == 409
    assert raised.value.headers["Stripe-Should-Retry"] == "false"
    with pytest.raises(stripe.APIError) as raised:
        _meter(client, "conflicted")  # event names are unique: a conflict with the ledger
    assert raised.value.http_status == 409


# -- meter events -----------------------------------------------------------------------------


def test_meter_events_send_duplicate_conflict_cancel_and_summaries(client) -> None:
    meter = _meter(client, "api_calls")
    customer = _customer(client)
    sent = client.v1.billing.meter_events.create(
        {
            "event_name": "api_calls",
            "payload": {"stripe_customer_id": customer.id, "value": "25.5"},
            "identifier": "call-1",
            "timestamp": NOW_TS - 3600,
        }
    )
    assert isinstance(sent, stripe.billing.MeterEvent)
    assert (sent.identifier, sent.timestamp, sent.created) == ("call-1", NOW_TS - 3600, NOW_TS)
    again = client.v1.billing.meter_events.create(
        {
            "event_name": "api_calls",
            "payload": {"stripe_customer_id": customer.id, "value": "25.5"},
            "identifier": "call-1",
            "timestamp": NOW_TS - 3600,
        }
    )
    assert again.to_dict() == sent.to_dict()  # a duplicate is a no-op (SPEC 2.3)
    with pytest.raises(stripe.APIError) as raised:
        client.v1.billing.meter_events.create(
            {
                "event_name": "api_calls",
                "payload": {"stripe_customer_id": customer.id, "value": "26"},
                "identifier": "call-1",
                "timestamp": NOW_TS - 3600,
            }
        )
    assert raised.value.http_status == 409
    assert raised.value.error.code == "identifier_conflict"
    client.v1.billing.meter_events.create(
        {"event_name": "api_calls", "payload": {"stripe_customer_id": customer.id, "value": "0.25"}}
    )
    summaries = client.v1.billing.meters.event_summaries.list(
        meter.id, {"customer": customer.id, "start_time": NOW_TS - 86400, "end_time": NOW_TS + 60}
    )
    assert len(summaries.data) == 1
    summary = summaries.data[0]
    assert summary.object == "billing.meter_event_summary" and summary.id.startswith("mtrusg_")
    assert summary.aggregated_value == 25.75
    adjustment = client.v1.billing.meter_event_adjustments.create(
        {"event_name": "api_calls", "type": "cancel", "cancel": {"identifier": "call-1"}}
    )
    assert adjustment.status == "complete" and adjustment.cancel.identifier == "call-1"
    after = client.v1.billing.meters.event_summaries.list(
        meter.id, {"customer": customer.id, "start_time": NOW_TS - 86400, "end_time": NOW_TS + 60}
    )
    assert after.data[0].aggregated_value == 0.25


def test_summary_values_are_exact_json_numbers(server, client) -> None:
    meter = _meter(client, "exact_sum")
    customer = _customer(client)
    for i, value in enumerate(("0.1", "0.2", "123456789012.345")):
        client.v1.billing.meter_events.create(
            {
                "event_name": "exact_sum",
                "payload": {"stripe_customer_id": customer.id, "value": value},
                "identifier": f"exact-{i}",
            }
        )
    response = httpx.get(
        f"{server.url}/v1/billing/meters/{meter.id}/event_summaries",
        params={"customer": customer.id, "start_time": NOW_TS - 60, "end_time": NOW_TS + 60},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert '"aggregated_value":123456789012.645,' in response.text
    parsed = json.loads(response.text, parse_float=Decimal)
    assert parsed["data"][0]["aggregated_value"] == Decimal("123456789012.645")


def test_summaries_per_window_newest_first(client) -> None:
    meter = _meter(client, "windowed")
    customer = _customer(client)
    for hours_ago in (1, 2, 26):
        client.v1.billing.meter_events.create(
            {
                "event_name": "windowed",
                "payload": {"stripe_customer_id": customer.id, "value": str(hours_ago)},
                "timestamp": NOW_TS - hours_ago * 3600,
            }
        )
    params = {"customer": customer.id, "start_time": NOW_TS - 2 * 86400, "end_time": NOW_TS}
    hourly = client.v1.billing.meters.event_summaries.list(
        meter.id, {**params, "value_grouping_window": "hour", "limit": 2}
    )
    assert [s.aggregated_value for s in hourly.data] == [1, 2] and hourly.has_more
    rest = list(hourly.auto_paging_iter())
    assert [s.aggregated_value for s in rest] == [1, 2, 26]
    assert [s.start_time for s in rest] == sorted((s.start_time for s in rest), reverse=True)


def test_event_validation_errors_carry_stripes_codes(client) -> None:
    _meter(client, "validated")
    cases = [
        ({"stripe_customer_id": "cus_nobody", "value": "1"}, "meter_event_customer_not_found",
         "payload[stripe_customer_id]"),
        ({"value": "1"}, "meter_event_no_customer_defined", "payload[stripe_customer_id]"),
        ({"stripe_customer_id": _customer(client).id, "value": "1e3"},
         "meter_event_invalid_value", "payload[value]"),
    ]  # fmt: skip
    for payload, code, param in cases:
        with pytest.raises(stripe.InvalidRequestError) as raised:
            client.v1.billing.meter_events.create({"event_name": "validated", "payload": payload})
        assert (raised.value.code, raised.value.param) == (code, param)
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.billing.meter_events.create(
            {"event_name": "no_such_meter", "payload": {"value": "1"}}
        )
    assert raised.value.code == "no_meter" and raised.value.param == "event_name"


# -- the CLI speaks the same envelope -----------------------------------------------------------


def test_cli_json_errors_print_the_envelope_on_stdout(tmp_path: Path) -> None:
    db = tmp_path / "b.db"
    run = [sys.executable, "-m", "billing_cli", "--db", str(db), "--now", NOW]
    subprocess.run([*run, "customer", "create", "--name", "x"], check=True, env=billing_env(),
                   capture_output=True)  # fmt: skip
    result = subprocess.run(
        [*run, "meter", "show", "mtr_nope", "--json"],
        capture_output=True,
        text=True,
        env=billing_env(),
    )
    assert result.returncode == 3
    assert result.stderr.startswith("error: no meter 'mtr_nope'")
    envelope = json.loads(result.stdout)
    assert envelope == {
        "error": {
            "type": "invalid_request_error",
            "code": "resource_missing",
            "message": "no meter 'mtr_nope'",
            "param": None,
        }
    }
    bad = subprocess.run(
        [*run, "meter", "create", "--display-name", "x", "--event-name", "e",
         "--aggregation", "avg", "--json"],
        capture_output=True, text=True, env=billing_env(),
    )  # fmt: skip
    assert bad.returncode == 4
    assert json.loads(bad.stdout)["error"]["param"] == "aggregation"
    # two formats asked for: a usage error with no format chosen, so nothing on stdout
    both = subprocess.run([*run, "meter", "list", "--json", "--csv"], capture_output=True,
                          text=True, env=billing_env())  # fmt: skip
    assert (both.returncode, both.stdout) == (2, "")
    assert both.stderr.startswith("error: --json and --csv cannot be used together")


def test_other_commands_do_not_import_the_http_stack() -> None:
    code = (
        "import sys\n"
        "from billing_cli.cli import app\n"
        "for argv in (['--help'], ['meter', '--help'], ['serve', '--help']):\n"
        "    try:\n"
        "        app(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(sorted(m for m in ('starlette', 'uvicorn', 'stripe', 'billing_cli.http')"
        " if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=billing_env()
    )
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stderr


def test_without_the_serve_extra_one_line_says_what_to_install(tmp_path: Path) -> None:
    """`pip install .` brings no HTTP stack: `billing serve` named the missing extra's packages
    instead of failing as an internal error ("this is a bug", exit 1)."""
    code = (
        "import sys\n"
        "sys.modules['starlette'] = sys.modules['uvicorn'] = None  # not installed\n"
        "from billing_cli.cli import main\n"
        f"sys.argv = ['billing', '--db', {str(tmp_path / 'b.db')!r}, 'serve', '--port', '0']\n"
        "main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=billing_env()
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines()[0] == (
        "error: billing serve needs the serve extra (starlette, uvicorn not installed)"
    )
    assert "pip install 'billing-cli[serve]'" in result.stderr
    assert "Traceback" not in result.stderr and "bug" not in result.stderr
    assert not (tmp_path / "b.db").exists()


def test_connections_are_served_without_nagles_delay() -> None:
    """Each connection `billing serve` accepts has TCP_NODELAY and says it is TCP (so asyncio
    keeps Nagle off). Before, the listening socket was made with protocol 0: asyncio left
    Nagle on, and on a kept-alive connection every answer's body waited for the client's
    delayed ACK (40 ms a request; serve_bench's v1 p50 fell from 48 ms to single digits)."""
    import socket

    from billing_cli.http.server import _bind

    for host in ("127.0.0.1", "::1"):
        try:
            listener = _bind(host, 0)
        except Exception:  # noqa: BLE001 - a machine without IPv6 loopback
            assert host == "::1"
            continue
        with listener, socket.create_connection(listener.getsockname()[:2]):
            accepted, _ = listener.accept()
            with accepted:
                assert accepted.proto == socket.IPPROTO_TCP
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
