"""PDF invoices (issue 12, item 4): every field read back from the file with pypdf, Unicode
names, DRAFT / PREVIEW marks, atomic writes that never replace a different file."""

from __future__ import annotations

from pathlib import Path

import pytest
from pypdf import PdfReader

from tests.conftest import Billing, assert_error
from tests.documents import CLOSE, START, build_shop, send, subscribe

pytestmark = pytest.mark.both_backends

NAME = "Zoë Łukasiewicz (Ωmega ООО)"


def text_of(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


@pytest.fixture
def shop(billing: Billing) -> Billing:
    build_shop(billing, name=NAME)
    billing.json("tax-rate", "create", "--display-name", "VAT", "--percentage", "19",
                 "--id", "txr_vat", now=START)  # fmt: skip
    subscribe(billing, "--default-tax-rate", "txr_vat")
    send(billing, "5800", "ev1", "2026-11-03T12:30:00Z")  # 58 packages × 4 cents = 2.32 USD
    return billing


def test_an_issued_invoice_pdf_holds_every_field(shop: Billing, tmp_path: Path) -> None:
    shop.json("invoice", "run", now=CLOSE)
    path = tmp_path / "out.pdf"
    result = shop("invoice", "pdf", "ALPACA-0001", "-o", str(path), now=CLOSE)
    assert result.exit_code == 0, result.stderr
    assert path.read_bytes().startswith(b"%PDF-")
    text = text_of(path)
    for field in (
        # seller
        "Alpaca AI GmbH", "Hauptstraße 1", "10115 Berlin", "VAT ID: DE123456789",
        "billing@alpaca.example",
        # buyer, any script
        NAME, "Musterweg 5", "80331 München", "VAT ID: DE987654321", "max@example.com",
        # header
        "Invoice ALPACA-0001", "Issue date 2026-12-01",
        "from 2026-11-01 09:00 UTC", "to 2026-12-01 09:00 UTC",
        # the line: description, period, quantity, unit price, amount
        "Alpaca AI", "2026-11-01 09:00 – 2026-12-01 09:00 UTC", "5800", "= 58 × 100",
        "0.04 USD", "2.32 USD",
        # totals
        "Subtotal 2.32 USD", "VAT 19 % on 2.32 USD 0.44 USD", "Total 2.76 USD",
        "Amount due 2.76 USD",
        # footer
        "Alpaca AI GmbH · Amtsgericht Berlin HRB 12345",
    ):  # fmt: skip
        assert field in text, f"{field!r} missing from:\n{text}"
    assert "DRAFT" not in text and "PREVIEW" not in text
    reader = PdfReader(path)
    assert reader.metadata is not None and reader.metadata.title == "Invoice ALPACA-0001"


def test_default_name_same_file_again_and_a_different_file(
    shop: Billing, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop.json("invoice", "run", now=CLOSE)
    monkeypatch.chdir(tmp_path)
    first = shop("invoice", "pdf", "ALPACA-0001", now=CLOSE)
    assert first.exit_code == 0 and "wrote ALPACA-0001.pdf" in first.stderr
    content = (tmp_path / "ALPACA-0001.pdf").read_bytes()
    again = shop("invoice", "pdf", "ALPACA-0001", now="2027-01-05T00:00:00Z")
    assert again.exit_code == 0 and "up to date" in again.stderr  # deterministic bytes
    other = tmp_path / "other.pdf"
    other.write_bytes(b"not this invoice")
    assert_error(shop("invoice", "pdf", "ALPACA-0001", "-o", str(other), now=CLOSE), 5, "other.pdf")
    assert other.read_bytes() == b"not this invoice"
    forced = shop("invoice", "pdf", "ALPACA-0001", "-o", str(other), "--force", now=CLOSE)
    assert forced.exit_code == 0 and other.read_bytes() == content
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind


def test_drafts_and_previews_are_marked(shop: Billing, tmp_path: Path) -> None:
    shop.json("invoice", "run", now="2026-12-01T09:05:00Z")  # a draft inside the grace
    draft = shop.json("invoice", "list", now="2026-12-01T09:05:00Z")["data"][0]
    assert draft["status"] == "draft"
    path = tmp_path / "draft.pdf"
    result = shop("invoice", "pdf", draft["id"], "-o", str(path), now="2026-12-01T09:05:00Z")
    assert result.exit_code == 0, result.stderr
    text = text_of(path)
    assert "DRAFT" in text and "not a valid invoice" in text and "Amount due 2.76 USD" in text
    preview = tmp_path / "preview.pdf"
    result = shop(
        "invoice", "pdf", "--customer", "cus_max", "-o", str(preview), now="2026-11-20T00:00:00Z"
    )
    assert result.exit_code == 0, result.stderr
    assert "PREVIEW" in text_of(preview) and NAME in text_of(preview)


def test_invoice_run_writes_one_pdf_per_finalized_invoice(shop: Billing, tmp_path: Path) -> None:
    folder = tmp_path / "pdfs"
    assert_error(shop("invoice", "run", "--pdf-dir", str(folder), now=CLOSE), 4, "--pdf-dir")
    assert shop.json("invoice", "list", now=CLOSE)["data"] == []  # refused before closing
    folder.mkdir()
    result = shop("invoice", "run", "--pdf-dir", str(folder), now=CLOSE)
    assert result.exit_code == 0, result.stderr
    assert [p.name for p in folder.iterdir()] == ["ALPACA-0001.pdf"]
    single = tmp_path / "single.pdf"
    shop("invoice", "pdf", "ALPACA-0001", "-o", str(single), now=CLOSE)
    assert (folder / "ALPACA-0001.pdf").read_bytes() == single.read_bytes()
    again = shop("invoice", "run", "--pdf-dir", str(folder), now=CLOSE)
    assert again.exit_code == 0 and [p.name for p in folder.iterdir()] == ["ALPACA-0001.pdf"]


def test_run_never_replaces_a_different_file(shop: Billing, tmp_path: Path) -> None:
    (tmp_path / "ALPACA-0001.pdf").write_bytes(b"someone else's")
    result = shop("invoice", "run", "--pdf-dir", str(tmp_path), now=CLOSE)
    assert result.exit_code == 5 and "ALPACA-0001.pdf" in result.stderr
    assert (tmp_path / "ALPACA-0001.pdf").read_bytes() == b"someone else's"


def test_pdf_errors(shop: Billing, tmp_path: Path) -> None:
    assert_error(shop("invoice", "pdf", "in_nope", "-o", str(tmp_path / "x.pdf")), 3, "in_nope")
    assert_error(shop("invoice", "pdf"), 2, "INVOICE")
    assert_error(
        shop("invoice", "pdf", "--customer", "cus_max", "-o", str(tmp_path / "no" / "x.pdf")),
        4,
        "no folder",
    )
