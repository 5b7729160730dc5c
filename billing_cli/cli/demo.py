"""`billing demo`: the Alpaca AI storyline (examples/alpaca.md) from the files in sample_data/.

Each step is a real `billing` command line run in-process with its own `--now`, so the demo shows
exactly what a user would type and see. It writes into a throw-away ledger in a temporary
directory unless `--db PATH` names a new ledger to keep.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from billing_cli.errors import BillingError, UsageError

DEMO_FILE = "alpaca_demo.json"


def sample_data_dir() -> Path:
    """Installed wheels carry sample_data inside the package; a checkout has it at the root."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "sample_data", package.parent / "sample_data"):
        if (candidate / DEMO_FILE).is_file():
            return candidate
    raise BillingError(
        f"the demo's {DEMO_FILE} was not found next to the package",
        hint="reinstall billing_cli, or run from a checkout that has sample_data/",
    )


def _event_argv(row: dict[str, str]) -> list[str]:
    argv = ["event", "send", "--event-name", row["event_name"]]
    for key, value in row.items():
        if key not in ("event_name", "identifier", "timestamp"):
            argv += ["--payload", f"{key}={value}"]
    return argv + ["--identifier", row["identifier"], "--timestamp", row["timestamp"]]


def _invoke(argv: list[str], *, quiet: bool) -> tuple[int, str]:
    """Run one `billing` command line in this process; returns (exit code, captured stdout)."""
    from billing_cli.cli import app

    buffer = io.StringIO()
    target = buffer if quiet else sys.stdout
    with contextlib.redirect_stdout(target):
        try:
            app(args=argv, prog_name="billing")
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return code, buffer.getvalue()


def _summary(output: str) -> str:
    """One line for a quiet step's JSON: what was created, or what became of an event."""
    with contextlib.suppress(ValueError, KeyError, TypeError):
        data = json.loads(output)
        if data.get("object") == "billing.meter_event":
            return f"→ {data['status']}: {data['identifier']}"
        if data.get("object") == "invoice":
            return f"→ {data['number']} {data['status']}"
        return f"→ created {data['id']}"
    return "→ done"


def run_demo(db: Path, data_dir: Path, *, keep: str = "") -> int:
    spec: dict[str, Any] = json.loads((data_dir / DEMO_FILE).read_text(encoding="utf-8"))
    with open(data_dir / spec["events_csv"], newline="", encoding="utf-8-sig") as fh:
        events = {row["identifier"]: row for row in csv.DictReader(fh)}
    say = sys.stdout.write
    say(f"{spec['title']}\nledger: {db}\n")
    for number, step in enumerate(spec["steps"], start=1):
        argv = _event_argv(events[step["send"]]) if "send" in step else list(step["argv"])
        argv = [a.replace("{folder}", str(db.parent)) for a in argv]  # where the PDF goes
        quiet = bool(step.get("quiet", "send" in step))
        if quiet:
            argv.append("--json")
        say(f"\n── step {number} · now {step['now']} ──\n")
        if step.get("say"):
            say(f"# {step['say']}\n")
        say(f"$ billing --now {step['now']} {shlex.join(argv)}\n")
        sys.stdout.flush()
        code, output = _invoke(["--db", str(db), "--now", step["now"], *argv], quiet=quiet)
        if quiet and code == 0:
            say(_summary(output) + "\n")
        expected = step.get("expect_exit", 0)
        if code != expected:
            raise BillingError(
                f"demo step {number} exited {code}, expected {expected}: "
                f"billing {shlex.join(argv)}",
                hint="this is a bug; re-run with BILLING_DEBUG=1 for details",
            )
        if expected:
            say(f"(exit {code}, as expected)\n")
    say(f"\nThe demo folder {db.parent} holds {', '.join(_kept(db.parent))}{keep}.\n")
    say(f"\nDone: {len(spec['steps'])} steps.\n")
    return 0


def _kept(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.suffix in (".db", ".pdf"))


def demo(
    db_text: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Keep the demo ledger at this new path, and ALPACA-0001.pdf beside it"
            " (default: a temporary folder, removed at the end).",
        ),
    ] = None,
) -> None:
    """Run the Alpaca AI example end to end (sample_data/): 19 % VAT, PDF, journal."""
    data_dir = sample_data_dir()
    if db_text is not None:
        if "://" in db_text:
            raise UsageError(
                f"demo --db {db_text}: the demo keeps its ledger in a new SQLite file",
                hint="run `billing demo --db demo.db`, then `billing ledger copy demo.db URI`",
            )
        db = Path(db_text)
        if db.exists() and db.stat().st_size > 0:
            raise UsageError(
                f"demo --db {db}: the file exists",
                hint="give a new path; the demo creates its objects with fixed ids",
            )
        run_demo(db, data_dir)
        return
    with tempfile.TemporaryDirectory(prefix="billing-demo-") as tmp:
        run_demo(
            Path(tmp) / "demo.db",
            data_dir,
            keep=" (removed at the end; `billing demo --db PATH` keeps them)",
        )


demo_app = typer.Typer(add_completion=False)
demo_app.command("demo")(demo)
