"""Invoice documents written to files: the PDF (`invoice pdf`, `invoice run --pdf-dir`).

A file is written atomically and never replaces a different one: it is written to a private
temporary file beside the target, flushed, and then linked to its name, which fails if the
name exists; a file with the very same bytes is left as it is (a rerun of `invoice run
--pdf-dir` rewrites nothing), a different one is a conflict unless the caller asked to
replace it. A reader therefore never sees half a PDF, and an issued invoice's PDF is never
silently swapped for another.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from billing_cli.api import invoices
from billing_cli.api.account import get_account
from billing_cli.api.catalog import get_customer
from billing_cli.api.context import Context
from billing_cli.api.prices import products_by_price
from billing_cli.domain.invoicing import Invoice
from billing_cli.errors import Conflict, InvalidInput, UsageError
from billing_cli.present.invoice_json import document_view, invoice_dict


def document_data(ctx: Context, inv: Invoice) -> dict[str, Any]:
    """The invoice dict a document renders: an issued invoice's frozen seller and buyer, or
    for a draft or preview the current ones (what finalizing now would freeze)."""
    data = invoice_dict(
        inv,
        get_customer(ctx, inv.customer),
        get_account(ctx),
        products=products_by_price(ctx),
        explain=True,  # a document shows packages and tiers, from each line's computation
    )
    return document_view(data)


def default_name(data: dict[str, Any], suffix: str) -> str:
    """`ALPACA-0001.pdf`; a draft by its id, a preview as `preview-<customer>`."""
    if data["number"]:
        stem = data["number"]
    elif data["id"]:
        stem = f"draft-{data['id']}"
    else:
        stem = f"preview-{data['customer']}"
    return f"{stem}{suffix}"


def write_file(path: Path, content: bytes, *, replace: bool = False) -> bool:
    """Write `content` to `path` atomically; False when the same bytes were there already."""
    if path.is_dir():
        raise InvalidInput(f"{path} is a directory", hint="give a file name, e.g. -o invoice.pdf")
    if path.exists() and not replace:
        if path.read_bytes() == content:
            return False
        raise Conflict(
            f"{path} exists and holds something else",
            hint="choose another path, remove the file, or pass --force to replace it",
        )
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except FileNotFoundError as exc:
        raise InvalidInput(f"no folder {folder}", hint="create it first") from exc
    except OSError as exc:
        raise InvalidInput(f"cannot write in {folder}: {exc.strerror}") from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        if replace:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails if the name exists: never clobbers
            except FileExistsError as exc:
                if path.read_bytes() == content:
                    return False
                raise Conflict(f"{path} appeared meanwhile and holds something else") from exc
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def invoice_pdf_bytes(data: dict[str, Any]) -> bytes:
    from billing_cli.present.pdf import invoice_pdf  # fpdf2 loads only for documents

    return invoice_pdf(data)


def write_invoice_pdf(
    ctx: Context,
    *,
    invoice_id: str | None = None,
    customer: str | None = None,
    subscription: str | None = None,
    path: Path | None = None,
    replace: bool = False,
) -> tuple[Path, bool]:
    """One invoice's PDF (or, with `customer` and no invoice, the preview's); returns the path
    and whether it was written (False: the same file was there)."""
    if invoice_id is None and customer is None:
        raise UsageError(
            "give an INVOICE (id or number) or --customer for a preview",
            hint="e.g. `billing invoice pdf ALPACA-0001`",
        )
    if invoice_id is not None and customer is not None:
        raise UsageError("give an INVOICE or --customer, not both")
    if invoice_id is not None:
        inv = invoices.get_invoice(ctx, invoice_id)
    else:
        assert customer is not None
        inv = invoices.upcoming(ctx, customer=customer, subscription=subscription)
    data = document_data(ctx, inv)
    target = path if path is not None else Path(default_name(data, ".pdf"))
    return target, write_file(target, invoice_pdf_bytes(data), replace=replace)


def write_run_pdfs(ctx: Context, invoice_ids: Iterable[str], folder: Path) -> list[Path]:
    """`invoice run --pdf-dir`: one `<number>.pdf` per invoice it finalized."""
    if not folder.is_dir():
        raise InvalidInput(f"--pdf-dir {folder} is not a folder", hint="create it first")
    written = []
    for invoice_id in invoice_ids:
        data = document_data(ctx, invoices.get_invoice(ctx, invoice_id))
        target = folder / default_name(data, ".pdf")
        write_file(target, invoice_pdf_bytes(data))
        written.append(target)
    return written
