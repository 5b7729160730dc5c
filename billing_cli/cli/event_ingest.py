"""`billing event send` and `billing event import`: usage into the ledger, one event or a file.

Errors, rejects and progress go to stderr, data to stdout (SPEC 5.1): an import's reject report
and summary are on stderr, and only its `--json` summary object is on stdout. The `event` group
is defined here so that `billing event --help` lists send and import first.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Annotated, Any, BinaryIO, NoReturn

import typer

from billing_cli.api import event_import as importer
from billing_cli.api import events as api
from billing_cli.api.event_import import BOOKKEEPING, ImportSummary, RejectedRow
from billing_cli.cli import context
from billing_cli.cli.output import JsonOption, console, note
from billing_cli.cli.render import render_one
from billing_cli.clock import format_time
from billing_cli.errors import (
    Conflict,
    ImportRejected,
    InvalidInput,
    LateEventsStored,
    UsageError,
)
from billing_cli.present import stripe_json as serialize

event_app = typer.Typer(no_args_is_help=True, help="Meter events: send, import, list, cancel.")


MaxAgeOption = Annotated[
    str | None,
    typer.Option(
        "--max-age",
        help="How old a timestamp may be, e.g. 400d for a back-fill [35d, as Stripe].",
    ),
]
FailOnLateOption = Annotated[
    bool,
    typer.Option(
        "--fail-on-late",
        help="Exit 7 when an event is stored late (in a period already invoiced).",
    ),
]
LATE_HINT = "`billing event late` lists them; `--resolve next-invoice` bills them"


@event_app.command("send")
def event_send(
    ctx: typer.Context,
    event_name: Annotated[str, typer.Option(help="The meter's event name.")],
    payload: Annotated[
        list[str] | None, typer.Option("--payload", help="KEY=VALUE, repeatable.")
    ] = None,
    customer: Annotated[
        str | None, typer.Option(help="Short form: the customer (fills the meter's key).")
    ] = None,
    value: Annotated[str | None, typer.Option(help="Short form: the value (decimal).")] = None,
    identifier: Annotated[
        str | None, typer.Option(help="Idempotency key (generated when omitted).")
    ] = None,
    timestamp: Annotated[
        str | None, typer.Option(help="When it happened: Unix seconds or ISO 8601 [now].")
    ] = None,
    max_age: MaxAgeOption = None,
    fail_on_late: FailOnLateOption = False,
    as_json: JsonOption = False,
) -> None:
    """Record one usage event (Stripe's meter event); re-sending it is a no-op. A timestamp
    more than 35 days old is refused (exit 4) unless --max-age allows it."""
    sent = api.send_event(
        context(ctx),
        event_name=event_name,
        payload=payload,
        customer=customer,
        value=value,
        identifier=identifier,
        timestamp=timestamp,
        max_age=max_age,
    )
    event = sent.event
    if sent.duplicate:
        note(f"duplicate: event {event.identifier} was already recorded; nothing changed")
    elif event.status == "late":
        note(
            f"late: {format_time(event.timestamp)} lies in a period a finalized invoice already "
            "billed; it counts in no invoice until `billing event late --resolve next-invoice`"
        )
    if not sent.duplicate and (event.value or "").startswith("-"):
        note(
            f"negative value {event.value}: a correction, it lowers the period's total; a total"
            " below 0 bills quantity 0 (as Stripe), nothing carries over"
        )
    render_one(serialize.meter_event_dict(event), as_json=as_json, title="meter event")
    if fail_on_late and event.status == "late" and not sent.duplicate:
        raise LateEventsStored(
            f"event {event.identifier} was stored late: {format_time(event.timestamp)} lies in a"
            " period a finalized invoice already billed",
            hint=LATE_HINT,
        )


# -- import --------------------------------------------------------------------------------


MAX_LISTED_REJECTS = 20
_EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def _format(source: str, fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in _EXTENSIONS.values():
            raise UsageError(f"--format {fmt!r} is not csv or jsonl")
        return fmt
    if source == "-":
        raise UsageError("--format is required when reading stdin", hint="add --format csv")
    found = _EXTENSIONS.get(Path(source).suffix.lower())
    if found is None:
        raise UsageError(
            f"cannot tell the format of {source!r} from its extension",
            hint="name it .csv, .jsonl or .ndjson, or pass --format csv|jsonl",
        )
    return found


def _open_input(source: str, stack: ExitStack) -> BinaryIO:
    if source == "-":
        return sys.stdin.buffer
    try:
        return stack.enter_context(open(source, "rb"))  # noqa: SIM115
    except OSError as exc:
        raise InvalidInput(
            f"cannot read {source}: {exc.strerror or exc}", hint="check the path to the file"
        ) from None


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
        return a.resolve() == b.resolve()
    except (OSError, RuntimeError):  # a name too long, a symlink loop: open() will say so
        return False


def _refuse_precious_reject_file(reject_file: Path, source: str, ledger: Path) -> None:
    """--reject-file is opened for writing, which empties it: never the ledger (nor its WAL,
    whose loss would drop committed transactions) and never the file being imported."""
    precious = {
        ledger: "the ledger itself",
        Path(f"{ledger}-wal"): "the ledger's write-ahead log",
        Path(f"{ledger}-shm"): "the ledger's shared-memory file",
        Path(f"{ledger}-journal"): "the ledger's journal",
    }
    if source != "-":
        precious[Path(source)] = "the file being imported"
    for path, what in precious.items():
        if _same_file(reject_file, path):
            raise Conflict(
                f"--reject-file {reject_file} is {what}; writing rejects there would destroy it",
                hint="give the rejected rows a file of their own, e.g. --reject-file rejects.csv",
            )


class _RejectFile:
    """Writes rejects in the input's format plus `_line` and `_error` (and `_raw` for a row
    that could not be parsed), so the file can be fixed and imported as it is."""

    def __init__(self, out: IO[str], fmt: str) -> None:
        self.out = out
        self.fmt = fmt
        self.csv: Any = None
        self.columns: list[str] = []

    def write(self, r: RejectedRow) -> None:
        error = f"{r.code}: {r.message}"
        if self.fmt == "jsonl":
            self.out.write(_jsonl_reject(r, error) + "\n")
            return
        if self.csv is None:
            self.csv = csv.writer(self.out, lineterminator="\n")
            self.columns = [c for c in r.header or [] if c not in BOOKKEEPING]
            self.csv.writerow([*self.columns, "_line", "_error", "_raw"])
        fields = r.raw.fields or {}
        raw = "" if r.raw.fields is not None else (r.raw.raw or "")
        self.csv.writerow([*(fields.get(c, "") for c in self.columns), r.line, error, raw])


def _jsonl_reject(r: RejectedRow, error: str) -> str:
    extra = {"_line": r.line, "_error": error}
    fields, text = r.raw.fields, (r.raw.raw or "").strip()
    if fields is None:
        return json.dumps({"_raw": r.raw.raw or "", **extra}, ensure_ascii=False)
    tail = json.dumps(extra, ensure_ascii=False)[1:]
    if text.endswith("}") and not any(k in fields for k in BOOKKEEPING):
        # Splice into the original text so numbers keep their literal form.
        body = text[:-1].rstrip()
        return body + ("," if fields else "") + tail
    clean = {k: v for k, v in fields.items() if k not in BOOKKEEPING}
    return json.dumps({**clean, **extra}, ensure_ascii=False)


def _summary_line(s: ImportSummary, dry_run: bool) -> str:
    line = (
        f"read {s.read}, accepted {s.accepted}, duplicates {s.duplicates}, "
        f"rejected {s.rejected}, late {s.late}, derived identifiers {s.derived_identifiers}"
    )
    return line + (" (dry run: nothing was written)" if dry_run else "")


@event_app.command("import")
def event_import(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(metavar="SOURCE", help="A CSV/JSONL file, or -.")],
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv or jsonl [from the extension].")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Validate everything, write nothing.")] = False,
    reject_file: Annotated[
        Path | None, typer.Option(help="Write rejected rows here, fixable and re-importable.")
    ] = None,
    max_age: MaxAgeOption = None,
    fail_on_late: FailOnLateOption = False,
    as_json: JsonOption = False,
) -> None:
    """Bulk-import events from CSV or JSONL (a file or - for stdin).

    Exit 7 when rows were rejected (the rest is kept), or with --fail-on-late when rows were
    stored late. Timestamps more than 35 days old are rejected unless --max-age allows them.
    Ctrl-C keeps every committed batch (exit 130); running the same import again completes it.

    \b
    CSV: a header row; event_name is required, identifier and timestamp (Unix seconds or
    ISO 8601; empty = now) are optional, every other column is a payload key (flat layout);
    a payload column may instead hold the payload as a JSON object (Stripe layout):
      event_name,stripe_customer_id,value,timestamp
      alpaca_ai_tokens,cus_max,3000,2026-11-03T12:30:00Z
      event_name,identifier,payload
      alpaca_ai_tokens,ev2,"{""stripe_customer_id"": ""cus_max"", ""value"": ""3000""}"

    \b
    JSONL: one object per line, Stripe's shape with a payload object, or flat (payload keys
    beside event_name); values are strings or numbers:
      {"event_name": "alpaca_ai_tokens", "identifier": "ev2", "timestamp": 1793709000,
       "payload": {"stripe_customer_id": "cus_max", "value": "3000"}}
      {"event_name": "alpaca_ai_tokens", "stripe_customer_id": "cus_max", "value": 3000}
    A key given both ways with different values is rejected. Rows without an identifier get
    one derived from their content, so re-importing a file adds nothing."""
    fmt = _format(source, fmt)
    oldest = api.parse_max_age(max_age)
    listed = 0

    def report(r: RejectedRow) -> None:
        nonlocal listed
        if rejects is not None:
            rejects.write(r)
        listed += 1
        if listed <= MAX_LISTED_REJECTS:
            sys.stderr.write(f"line {r.line}: {r.identifier or '-'} {r.code}: {r.message}\n")

    if reject_file is not None:
        _refuse_precious_reject_file(reject_file, source, Path(context(ctx).db))
    with ExitStack() as stack:
        stream = _open_input(source, stack)
        rejects = None
        if reject_file is not None:
            try:
                out = stack.enter_context(open(reject_file, "w", encoding="utf-8", newline=""))
            except OSError as exc:
                message = f"cannot write --reject-file {reject_file}: {exc.strerror}"
                raise InvalidInput(message) from None
            rejects = _RejectFile(out, fmt)
        progress = stack.enter_context(_Progress(stream))
        try:
            summary = importer.import_events(
                context(ctx),
                stream,
                fmt,
                dry_run=dry_run,
                on_reject=report,
                on_progress=progress,
                max_age=oldest,
            )
        except importer.ImportInterrupted as interrupted:
            stack.close()  # the progress bar goes before the line that says what was kept
            _interrupted(interrupted, dry_run)
    if listed > MAX_LISTED_REJECTS:
        where = f"all are in {reject_file}" if reject_file else "--reject-file PATH lists all"
        sys.stderr.write(f"… and {listed - MAX_LISTED_REJECTS} more ({where})\n")
    sys.stderr.write(_summary_line(summary, dry_run) + "\n")
    if as_json:
        sys.stdout.write(json.dumps(summary.as_dict()) + "\n")
    late = ""
    if fail_on_late and summary.late:
        late = (
            f"{summary.late} of {summary.read} rows {'would be' if dry_run else 'were'} stored late"
        )
    if summary.rejected:
        verb = "would be rejected" if dry_run else "were rejected; the accepted rows are kept"
        raise ImportRejected(
            f"{summary.rejected} of {summary.read} rows {verb}" + (f"; {late}" if late else ""),
            hint="fix them (--reject-file writes them re-importable) and import again",
        )
    if late:
        raise LateEventsStored(
            f"{late}: they lie in periods finalized invoices already billed", hint=LATE_HINT
        )


def _interrupted(interrupted: importer.ImportInterrupted, dry_run: bool) -> NoReturn:
    """Ctrl-C: one line saying what is kept (every batch committed before it) and whether
    running the same import again is needed to complete it; exit 130 as shells expect after
    SIGINT, even when the signal came too late to stop anything (the last batch committed)."""
    done, batches = interrupted.summary, _plural(interrupted.batches, "batch", "batches")
    counts = f"({done.accepted} accepted, {done.duplicates} duplicates, {done.rejected} rejected)"
    if dry_run:
        what = "dry run: nothing was written"
    elif interrupted.complete:
        what = (
            f"the import had completed: all {done.read} rows were read and {batches} committed "
            f"{counts}; nothing is left to import"
        )
    elif interrupted.batches == 0:
        what = "no batch was committed yet; nothing was written; run the same import again"
    else:
        what = (
            f"{batches} committed, rows 1 to {done.read} {counts}; the batch in flight was "
            "rolled back; run the same import again to complete it (committed rows are skipped "
            "as duplicates)"
        )
    sys.stderr.write(f"error: interrupted: {what}\n")
    raise typer.Exit(130)


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


class _Progress:
    """A Rich progress bar on stderr, only when stderr is a terminal (SPEC 2.5)."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.bar: Any = None

    def __enter__(self) -> _Progress:
        if sys.stderr.isatty():
            from rich.progress import Progress

            total = None
            name = getattr(self.stream, "name", None)
            if self.stream.seekable() and isinstance(name, str):
                total = Path(name).stat().st_size
            self.bar = Progress(console=console(stderr=True), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("importing", total=total)
        return self

    def __call__(self, summary: ImportSummary) -> None:
        if self.bar is not None:
            done = self.stream.tell() if self.stream.seekable() else summary.read
            self.bar.update(self.task, completed=done, description=f"{summary.read} rows")

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
