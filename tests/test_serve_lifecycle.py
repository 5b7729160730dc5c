"""The server's life: a request in flight when SIGTERM arrives is finished, a bug answers 500
in Stripe's envelope without a traceback, the access log and --quiet."""

from __future__ import annotations

import signal
import socket
import sqlite3
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import stripe

from tests.serve_harness import KEY, running_server

NOW = "2026-11-01T09:00:00Z"


def test_sigterm_finishes_the_request_in_flight(tmp_path: Path) -> None:
    """The request's headers and part of its body are in when SIGTERM arrives; the server
    waits for the rest, answers it, and only then exits 0. (A first request on the same
    connection makes sure the server has accepted it: a connection still in the listen backlog
    is not in flight, and a stopping server refuses it.)"""
    db = tmp_path / "b.db"
    with running_server(db, now=NOW) as server:
        parts = urlsplit(server.url)

        def request(body: bytes) -> bytes:
            return (
                f"POST /v1/customers HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                f"Authorization: Bearer {KEY}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode() + body

        with socket.create_connection((parts.hostname, parts.port), timeout=30) as conn:
            reader = conn.makefile("rb")
            conn.sendall(request(b"name=First"))
            assert reader.readline() == b"HTTP/1.1 200 OK\r\n"
            length = 0
            while (line := reader.readline()) != b"\r\n":
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            reader.read(length)
            second = request(b"name=Finished+after+SIGTERM&email=max%40example.com")
            conn.sendall(second[:-20])
            server.proc.send_signal(signal.SIGTERM)
            conn.sendall(second[-20:])
            answer = reader.read()
        assert server.stop() == 0, server.stderr
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 200 OK", answer
    assert b"request-id: req_" in rest.lower()
    with sqlite3.connect(db) as check:
        names = [r[0] for r in check.execute("SELECT name FROM customers ORDER BY created, rowid")]
    assert names == ["First", "Finished after SIGTERM"]


def test_a_bug_is_a_500_api_error_without_a_traceback(tmp_path: Path) -> None:
    """A price row edited behind the program's back (a unit amount billing never writes) makes
    reading it fail inside the use case: the client gets Stripe's 500 `api_error`, the operator
    one line on stderr, and the server keeps serving."""
    db = tmp_path / "b.db"
    with running_server(db, now=NOW) as server:
        client = server.client()
        meter = client.v1.billing.meters.create(
            {"display_name": "T", "event_name": "tok", "default_aggregation": {"formula": "sum"}}
        )
        price = client.v1.prices.create(
            {
                "product_data": {"name": "Tokens"},
                "currency": "usd",
                "unit_amount": 4,
                "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id},
            }
        )
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE prices SET tiers = '{not json' WHERE id = ?", (price.id,))
            conn.execute("UPDATE prices SET billing_scheme = 'tiered' WHERE id = ?", (price.id,))
        response = httpx.get(
            f"{server.url}/v1/prices/{price.id}", headers={"Authorization": f"Bearer {KEY}"}
        )
        assert response.status_code == 500, response.text
        error = response.json()["error"]
        assert error["type"] == "api_error" and set(error) == {"type", "code", "message", "param"}
        assert "Traceback" not in response.text and 'File "' not in response.text
        with pytest.raises(stripe.APIError) as raised:
            client.v1.prices.retrieve(price.id)
        assert raised.value.http_status == 500
        assert client.v1.billing.meters.retrieve(meter.id).id == meter.id  # still serving
    assert "Traceback" not in server.stderr
    assert any(line.startswith("error: ") for line in server.stderr.splitlines())


def test_access_log_on_stderr_and_quiet(tmp_path: Path) -> None:
    with running_server(tmp_path / "a.db", now=NOW, quiet=False) as server:
        server.client().v1.customers.list()
        httpx.get(f"{server.url}/v1/customers")  # no key: 401
    logged = [line for line in server.stderr.splitlines() if " /v1/customers " in line]
    assert len(logged) == 2, server.stderr
    assert logged[0].startswith("127.0.0.1 GET /v1/customers 200 ")
    assert logged[1].split()[3] == "401" and logged[1].split()[-1].startswith("req_")
    with running_server(tmp_path / "q.db", now=NOW, quiet=True) as server:
        server.client().v1.customers.list()
    assert " /v1/customers " not in server.stderr
