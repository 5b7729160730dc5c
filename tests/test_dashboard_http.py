"""The dashboard over HTTP (issue 18 items 2-4), against a real server process: sign-in,
sessions, headers, hostile data, and figures equal to the CLI's. The browser tests
(test_dashboard_browser.py) check the same pages as a person sees them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import httpx
import pytest

from tests.conftest import Billing, json_of
from tests.dashboard_support import (
    API_KEY,
    HOSTILE_IMG,
    HOSTILE_SCRIPT,
    SHOP_NOW,
    Server,
    build_shop,
    exact_text,
    served,
)

PAGES = [
    "/dashboard/meters",
    "/dashboard/meters/mtr_tokens",
    "/dashboard/customers",
    "/dashboard/customers/cus_alpaca",
    "/dashboard/invoices",
    "/dashboard/late-events",
]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Billing:
    billing = Billing(tmp_path_factory.mktemp("shop") / "billing.db")
    build_shop(billing)
    return billing


@pytest.fixture(scope="module")
def server(shop: Billing) -> Iterator[Server]:
    with served(shop.db) as running:
        yield running


def _client(server: Server) -> httpx.Client:
    return httpx.Client(base_url=server.base, follow_redirects=False, timeout=30)


@pytest.fixture
def signed_in(server: Server) -> Iterator[httpx.Client]:
    with _client(server) as client:
        answer = client.post("/dashboard/login", data={"api_key": API_KEY})
        assert answer.status_code == 303, answer.text
        yield client


def _text(html: str) -> str:
    """What a reader sees: tags dropped, entities decoded, whitespace folded."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def _cli(shop: Billing, *args: str) -> dict:
    return json_of(shop(*args, "--json", now=SHOP_NOW))


# -- signing in -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [*PAGES, "/dashboard/invoices/nope", "/dashboard/anything"])
def test_signed_out_requests_go_to_sign_in(server: Server, path: str) -> None:
    with _client(server) as client:
        answer = client.get(path)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/dashboard/login?next={path}"


def test_sign_in_with_a_key_sets_a_strict_http_only_cookie(server: Server) -> None:
    with _client(server) as client:
        page = client.get("/dashboard/login")
        assert 'type="password"' in page.text and '<label for="api_key">' in page.text
        answer = client.post(
            "/dashboard/login", data={"api_key": API_KEY, "next": "/dashboard/invoices"}
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == "/dashboard/invoices"
        cookie = answer.headers["set-cookie"].lower()
        for part in ("httponly", "samesite=strict", "max-age=28800", "path=/dashboard"):
            assert part in cookie, cookie
        assert client.get("/dashboard/invoices").status_code == 200


def test_a_wrong_key_shows_the_form_again_without_a_hint(server: Server) -> None:
    with _client(server) as client:
        answer = client.post("/dashboard/login", data={"api_key": API_KEY[:-1] + "X"})
        assert answer.status_code == 403
        assert "That API key is not valid." in answer.text
        assert "set-cookie" not in answer.headers
        assert API_KEY[:12] not in answer.text  # nothing of the real key is echoed
        assert client.get("/dashboard/meters").status_code == 303


def test_the_one_time_url_works_once(server: Server) -> None:
    with _client(server) as first:
        answer = first.get(server.login_url)
        assert answer.status_code == 303 and "set-cookie" in answer.headers
        assert first.get("/dashboard/meters").status_code == 200
    with _client(server) as second:
        again = second.get(server.login_url)
        assert again.status_code == 403 and "works once" in again.text
        assert second.get("/dashboard/meters").status_code == 303


def test_sign_out_ends_the_session_even_for_a_copied_cookie(server: Server) -> None:
    with _client(server) as client:
        client.post("/dashboard/login", data={"api_key": API_KEY})
        cookie = dict(client.cookies)
        page = client.get("/dashboard/meters").text
        token = re.search(r'name="form_token" value="([0-9a-f]+)"', page)
        assert token is not None
        answer = client.post("/dashboard/logout", data={"form_token": token[1]})
        assert answer.status_code == 303 and answer.headers["location"] == "/dashboard/login"
    with httpx.Client(base_url=server.base, cookies=cookie, follow_redirects=False) as replay:
        assert replay.get("/dashboard/meters").status_code == 303


def test_forged_and_altered_cookies_are_refused(server: Server, signed_in: httpx.Client) -> None:
    value = signed_in.cookies["billing_dashboard"]
    session_id, expires, signature = value.split(".")
    forged = [f"{session_id}.{int(expires) + 3600}.{signature}", f"{session_id}.{expires}.0",
              "x.1.2", "", "garbage"]  # fmt: skip
    for cookie in forged:
        with httpx.Client(base_url=server.base, follow_redirects=False) as client:
            client.cookies.set("billing_dashboard", cookie)
            assert client.get("/dashboard/meters").status_code == 303, cookie


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/elsewhere",
                                    "/dashboard\\..\\x"])  # fmt: skip
def test_sign_in_never_redirects_off_the_dashboard(server: Server, target: str) -> None:
    with _client(server) as client:
        answer = client.post("/dashboard/login", data={"api_key": API_KEY, "next": target})
        assert answer.headers["location"] == "/dashboard/meters"


# -- headers and hostile data -----------------------------------------------------------------


@pytest.mark.parametrize(
    "path", [*PAGES, "/dashboard/login", "/dashboard/static/dashboard.css", "/dashboard/nope"]
)
def test_every_response_carries_the_security_headers(signed_in: httpx.Client, path: str) -> None:
    answer = signed_in.get(path)
    csp = answer.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert "unsafe-inline" not in csp and "script-src" not in csp  # no script at all
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"


def test_pages_carry_no_script_and_no_inline_style(signed_in: httpx.Client) -> None:
    for path in PAGES:
        html = signed_in.get(path).text
        assert "<script" not in html.replace("&lt;script", "")
        assert " style=" not in html and "<style" not in html


def test_hostile_names_are_escaped(signed_in: httpx.Client) -> None:
    for path, names in (
        ("/dashboard/customers", (HOSTILE_SCRIPT, HOSTILE_IMG)),
        ("/dashboard/customers/cus_script", (HOSTILE_SCRIPT,)),
        ("/dashboard/customers/cus_img", (HOSTILE_IMG,)),
        ("/dashboard/meters/mtr_tokens", (HOSTILE_SCRIPT, HOSTILE_IMG)),  # the customer picker
        ("/dashboard/invoices", (HOSTILE_SCRIPT,)),
    ):
        html = signed_in.get(path).text
        assert "<script>window.__pwned" not in html and "<img src=x" not in html, path
        for name in names:
            assert name in _text(html), (path, name)
    assert (
        "&lt;script&gt;window.__pwned = 1&lt;/script&gt;"
        in signed_in.get("/dashboard/customers").text
    )


# -- figures equal to the CLI's ------------------------------------------------------------------


def _usage_total(html: str) -> str:
    found = re.search(r'<strong id="usage-total">([^<]*)</strong>', html)
    assert found is not None, html
    return found[1]


@pytest.mark.parametrize("customer", ["cus_alpaca", "cus_llama"])
def test_meter_total_and_windows_equal_meter_usage(
    shop: Billing, signed_in: httpx.Client, customer: str
) -> None:
    html = signed_in.get(
        "/dashboard/meters/mtr_tokens",
        params={"customer": customer, "start": "2026-11-01", "end": "2026-11-30"},
    ).text
    rng = ("--start", "2026-11-01T00:00:00Z", "--end", "2026-12-01T00:00:00Z")
    whole = _cli(shop, "meter", "usage", "mtr_tokens", "--customer", customer, *rng)
    assert _usage_total(html) == exact_text(whole["data"][0]["aggregated_value"])
    days = _cli(shop, "meter", "usage", "mtr_tokens", "--customer", customer, *rng,
                "--window", "day")["data"]  # fmt: skip
    bars = re.findall(r'<rect class="bar"[^>]*data-start="(\d+)"[^>]*data-value="([^"]*)"', html)
    assert bars == [(str(d["start_time"]), exact_text(d["aggregated_value"])) for d in days]
    assert f"--customer {customer} --start 2026-11-01T00:00:00Z --end 2026-12-01T00:00:00Z" in html


def test_all_customers_add_up_each_customers_usage(shop: Billing, signed_in: httpx.Client) -> None:
    from decimal import Decimal

    html = signed_in.get("/dashboard/meters/mtr_tokens", params={"range": "last-month"}).text
    rng = ("--start", "2026-11-01T00:00:00Z", "--end", "2026-12-01T00:00:00Z")
    expected = sum(
        Decimal(exact_text(_cli(shop, "meter", "usage", "mtr_tokens", "--customer", c, *rng)[
            "data"][0]["aggregated_value"]))
        for c in ("cus_alpaca", "cus_llama", "cus_script", "cus_img")
    )  # fmt: skip
    assert Decimal(_usage_total(html)) == expected == Decimal("14279.75")
    days = re.findall(r"<rect class=\"bar\"[^>]*><title>(\d{4}-\d\d-\d\d):", html)
    assert days == [
        "2026-11-01",
        "2026-11-03",
        "2026-11-14",
        "2026-11-20",
        "2026-11-29",
    ]  # not the late 15th


def test_upcoming_invoice_equals_the_cli_to_the_cent(
    shop: Billing, signed_in: httpx.Client
) -> None:
    upcoming = _cli(shop, "invoice", "upcoming", "--customer", "cus_alpaca")
    text = _text(signed_in.get("/dashboard/customers/cus_alpaca").text)
    section = text[text.index("Upcoming invoice") : text.index("Invoices", text.index("Upcoming"))]
    for line in upcoming["lines"]["data"]:
        assert line["quantity_decimal"] in section
    assert f"Total {upcoming['total'] // 100}.{upcoming['total'] % 100:02d} USD" in section
    assert f"Amount due {upcoming['amount_due'] // 100}.{upcoming['amount_due'] % 100:02d} USD" in (
        section
    )


def test_invoices_list_and_page_show_the_cli_amounts(
    shop: Billing, signed_in: httpx.Client
) -> None:
    listed = _cli(shop, "invoice", "list")["data"]
    text = _text(signed_in.get("/dashboard/invoices").text)
    for inv in listed:
        assert inv["number"] in text
    first = next(i for i in listed if i["customer"] == "cus_alpaca")
    page = _text(signed_in.get(f"/dashboard/invoices/{first['id']}").text)
    assert "Alpaca AI" in page and "5.41 USD" in page and first["number"] in page
    assert signed_in.get("/dashboard/invoices/in_nope").status_code == 404


def test_invoice_pdf_downloads_the_cli_document(shop: Billing, signed_in: httpx.Client) -> None:
    import io

    from pypdf import PdfReader

    first = next(i for i in _cli(shop, "invoice", "list")["data"] if i["customer"] == "cus_alpaca")
    page = signed_in.get(f"/dashboard/invoices/{first['number']}").text
    link = re.search(r'<a class="button" href="([^"]+)" download>Download PDF</a>', page)
    assert link is not None and link[1] == f"/dashboard/invoices/{first['id']}/pdf"
    answer = signed_in.get(link[1])
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
    assert f'filename="{first["number"]}.pdf"' in answer.headers["content-disposition"]
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(answer.content)).pages)
    assert first["number"] in text and "5.41" in text
    with _client_of(signed_in) as anonymous:
        assert anonymous.get(link[1]).status_code == 303


def _client_of(signed_in: httpx.Client) -> httpx.Client:
    return httpx.Client(base_url=signed_in.base_url, follow_redirects=False, timeout=30)


def test_late_events_say_which_invoice_billed_their_period(signed_in: httpx.Client) -> None:
    text = _text(signed_in.get("/dashboard/late-events").text)
    assert "late-1" in text and "late-2" in text
    assert text.count("its period was billed by") == 2


def test_a_bad_date_is_named_on_the_meter_page(signed_in: httpx.Client) -> None:
    answer = signed_in.get(
        "/dashboard/meters/mtr_tokens", params={"start": "2026-13-01", "end": "2026-11-30"}
    )
    assert answer.status_code == 200
    assert "start &#39;2026-13-01&#39; is not a date" in answer.text
    assert signed_in.get("/dashboard/meters/mtr_nope").status_code == 404


def test_stylesheet_ships_in_the_package() -> None:
    from billing_cli.http import dashboard

    folder = Path(dashboard.__file__).parent
    assert (folder / "static" / "dashboard.css").is_file()
    assert (folder / "templates" / "meter.html").is_file()
