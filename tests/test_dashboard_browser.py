"""The dashboard in a real browser (issue 18 item 7): headless Chromium from Debian's
`chromium` and `chromium-driver`, driven by Selenium, against a real server process.

Covers signing in (form and one-time URL), every page reached by its links, the meter chart
(one bar per window with usage, total equal to the CLI's), the upcoming invoice to the cent,
hostile names shown literally with no script run, and signed-out requests sent to sign-in.
A failed test leaves a screenshot of the page in test-artifacts/browser/. Without a browser
the module is skipped with one reason line.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

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

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
try:
    import selenium  # noqa: F401

    HAVE_SELENIUM = True
except ImportError:
    HAVE_SELENIUM = False
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER and HAVE_SELENIUM),
    reason="browser tests need Debian's chromium and chromium-driver and selenium "
    "(apt-get install chromium chromium-driver; .ci/run installs them)",
)
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "browser"


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Billing:
    billing = Billing(tmp_path_factory.mktemp("shop") / "billing.db")
    build_shop(billing)
    return billing


@pytest.fixture(scope="module")
def server(shop: Billing) -> Iterator[Server]:
    with served(shop.db) as running:
        yield running


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="billing-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
                 "--window-size=1440,1000"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def browser(chromium, server: Server, request: pytest.FixtureRequest) -> Iterator[object]:  # noqa: ANN001
    """A signed-out browser at the default size; a screenshot of the page if the test fails."""
    chromium.delete_all_cookies()
    chromium.set_window_size(1440, 1000)
    chromium.get(f"{server.base}/dashboard/static/dashboard.css")  # on the origin, no session
    chromium.delete_all_cookies()
    yield chromium
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
        chromium.save_screenshot(str(ARTIFACTS / f"{name}.png"))
        (ARTIFACTS / f"{name}.html").write_text(chromium.page_source, encoding="utf-8")


def _submit_and_wait(browser, button) -> None:  # noqa: ANN001
    """Click a submit button or link and wait until the next page has replaced this one (a
    click returns before the navigation it starts has finished, more so on a busy machine).
    The old page's window carries a marker that the new page's window no longer has."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    browser.execute_script("window.__old_page = true")
    button.click()
    WebDriverWait(browser, 20, ignored_exceptions=(WebDriverException,)).until(
        lambda b: b.execute_script(
            "return window.__old_page === undefined && document.readyState === 'complete'"
        )
    )


def _sign_in(browser, server: Server) -> None:  # noqa: ANN001
    from selenium.webdriver.common.by import By

    browser.get(f"{server.base}/dashboard/login")
    browser.find_element(By.ID, "api_key").send_keys(API_KEY)
    _submit_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "main form button"))
    assert browser.current_url.endswith("/dashboard/meters")


def _cli(shop: Billing, *args: str) -> dict:
    return json_of(shop(*args, "--json", now=SHOP_NOW))


def test_signed_out_pages_send_the_browser_to_sign_in(browser, server: Server) -> None:  # noqa: ANN001
    from selenium.webdriver.common.by import By

    browser.get(f"{server.base}/dashboard/customers/cus_alpaca")
    assert "/dashboard/login?next=" in browser.current_url
    assert browser.find_element(By.TAG_NAME, "h1").text == "Sign in"
    assert browser.find_elements(By.CSS_SELECTOR, "nav[aria-label=Main]") == []
    field = browser.find_element(By.ID, "api_key")
    assert field.get_attribute("type") == "password"
    # … and signing in from there lands on the page that was asked for
    field.send_keys(API_KEY)
    _submit_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "main form button"))
    assert browser.current_url.endswith("/dashboard/customers/cus_alpaca")


def test_a_wrong_key_says_so_and_signs_nobody_in(browser, server: Server) -> None:  # noqa: ANN001
    from selenium.webdriver.common.by import By

    browser.get(f"{server.base}/dashboard/login")
    browser.find_element(By.ID, "api_key").send_keys("sk_test_wrong")
    _submit_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "main form button"))
    assert browser.find_element(By.CSS_SELECTOR, "[role=alert]").text == (
        "That API key is not valid."
    )
    browser.get(f"{server.base}/dashboard/meters")
    assert "/dashboard/login" in browser.current_url


def test_the_one_time_url_signs_in_and_sign_out_ends_it(browser, server: Server) -> None:  # noqa: ANN001
    from selenium.webdriver.common.by import By

    browser.get(server.login_url)
    assert browser.current_url.endswith("/dashboard/meters")
    cookie = browser.get_cookie("billing_dashboard")
    assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert browser.execute_script("return document.cookie") == ""  # invisible to scripts
    _submit_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "form.signout button"))
    assert "/dashboard/login" in browser.current_url
    browser.get(f"{server.base}/dashboard/meters")
    assert "/dashboard/login" in browser.current_url


def test_every_page_is_reached_by_its_links(browser, server: Server) -> None:  # noqa: ANN001
    from selenium.webdriver.common.by import By

    _sign_in(browser, server)

    def follow(text: str) -> None:
        _submit_and_wait(browser, browser.find_element(By.LINK_TEXT, text))

    follow("API tokens")
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("API tokens")
    follow("Last month")
    assert browser.find_elements(By.CSS_SELECTOR, "#usage-chart rect.bar")
    follow("Customers")
    follow("Alpaca AI")
    assert browser.find_element(By.ID, "upcoming-heading").text == "Upcoming invoice"
    invoice_link = browser.find_element(By.CSS_SELECTOR, "table.invoices tbody a")
    number = invoice_link.text
    _submit_and_wait(browser, invoice_link)
    assert number in browser.find_element(By.TAG_NAME, "h1").text
    follow("Invoices")
    assert browser.find_elements(By.CSS_SELECTOR, "table.invoices tbody tr")
    follow("Late events")
    assert "its period was billed by" in browser.find_element(By.TAG_NAME, "table").text
    follow(number)  # the late event's invoice
    assert number in browser.find_element(By.TAG_NAME, "h1").text
    follow("Meters")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Meters"


def test_meter_chart_has_a_bar_per_day_with_usage_and_the_cli_total(
    browser,
    server: Server,
    shop: Billing,  # noqa: ANN001
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    _sign_in(browser, server)
    browser.get(f"{server.base}/dashboard/meters/mtr_tokens")
    Select(browser.find_element(By.ID, "customer")).select_by_value("cus_alpaca")
    Select(browser.find_element(By.ID, "window")).select_by_value("day")
    for field, value in (("start", "2026-11-01"), ("end", "2026-11-30")):
        element = browser.find_element(By.ID, field)
        browser.execute_script("arguments[0].value = arguments[1]", element, value)
    _submit_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "form.picker button"))
    rng = ("--start", "2026-11-01T00:00:00Z", "--end", "2026-12-01T00:00:00Z")
    days = _cli(shop, "meter", "usage", "mtr_tokens", "--customer", "cus_alpaca", *rng,
                "--window", "day")["data"]  # fmt: skip
    bars = browser.find_elements(By.CSS_SELECTOR, "#usage-chart rect.bar")
    assert [(b.get_attribute("data-start"), b.get_attribute("data-value")) for b in bars] == [
        (str(d["start_time"]), exact_text(d["aggregated_value"])) for d in days
    ]
    heights = [float(b.get_attribute("height")) for b in bars]
    assert heights.index(max(heights)) == 2  # the 14th, the peak, is the tallest bar
    whole = _cli(shop, "meter", "usage", "mtr_tokens", "--customer", "cus_alpaca", *rng)
    total = browser.find_element(By.ID, "usage-total").text
    assert total == exact_text(whole["data"][0]["aggregated_value"]) == "13533.75"


def test_upcoming_invoice_equals_the_cli_to_the_cent(
    browser, server: Server, shop: Billing
) -> None:  # noqa: ANN001, E501
    from selenium.webdriver.common.by import By

    _sign_in(browser, server)
    browser.get(f"{server.base}/dashboard/customers/cus_alpaca")
    upcoming = _cli(shop, "invoice", "upcoming", "--customer", "cus_alpaca")
    section = browser.find_element(By.ID, "upcoming")
    shown = section.find_element(By.CSS_SELECTOR, "td[data-field=total]").text
    due = section.find_element(By.CSS_SELECTOR, "td[data-field=amount_due]").text
    cents = upcoming["total"]
    assert (
        shown == f"{cents // 100}.{cents % 100:02d} USD" == "1.49 USD"
    )  # (2500 + 1234.75) × 0.04 cents
    assert due == f"{upcoming['amount_due'] // 100}.{upcoming['amount_due'] % 100:02d} USD"


def test_hostile_names_show_literally_and_run_nothing(browser, server: Server) -> None:  # noqa: ANN001
    from selenium.webdriver.common.by import By

    _sign_in(browser, server)
    for path in ("/dashboard/customers", "/dashboard/customers/cus_script",
                 "/dashboard/customers/cus_img", "/dashboard/invoices",
                 "/dashboard/meters/mtr_tokens"):  # fmt: skip
        browser.get(f"{server.base}{path}")
        assert browser.execute_script("return window.__pwned === undefined"), path
        assert browser.find_elements(By.CSS_SELECTOR, "main img") == [], path
    browser.get(f"{server.base}/dashboard/customers")
    body = browser.find_element(By.TAG_NAME, "main").text
    assert HOSTILE_SCRIPT in body and HOSTILE_IMG in body


@pytest.mark.parametrize("width", [375, 1440])
def test_pages_fit_a_phone_and_a_desktop(browser, server: Server, width: int) -> None:  # noqa: ANN001
    _sign_in(browser, server)
    browser.set_window_size(width, 900)
    for path in ("/dashboard/meters", "/dashboard/meters/mtr_tokens", "/dashboard/customers",
                 "/dashboard/customers/cus_alpaca", "/dashboard/invoices",
                 "/dashboard/late-events"):  # fmt: skip
        browser.get(f"{server.base}{path}")
        inner = browser.execute_script("return window.innerWidth")
        scroll = browser.execute_script("return document.documentElement.scrollWidth")
        assert scroll <= inner, (path, scroll, inner)  # no sideways scrolling of the page
