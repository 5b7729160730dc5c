"""The installed program in a real process: console script, `python -m`, --version, --help,
exit codes and streams as a shell or a cron job sees them."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from billing_cli import __version__
from billing_cli.cli import app
from tests.conftest import Billing

BIN = Path(sys.executable).parent / "billing"
ENV = {k: v for k, v in os.environ.items() if not k.startswith("BILLING_")}
ENV["BILLING_NOW"] = "2026-11-01T09:00:00Z"


def run(*argv: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, env=ENV, cwd=cwd, timeout=60
    )


def billing_program() -> list[str]:
    found = BIN if BIN.exists() else shutil.which("billing")
    if found is None:
        pytest.skip("the billing console script is not installed")
    return [str(found)]


def test_version_both_ways() -> None:
    for argv in (billing_program(), [sys.executable, "-m", "billing_cli"]):
        result = run(*argv, "--version")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().endswith(__version__)
        assert result.stderr == ""


def test_piped_session_through_the_console_script(tmp_path: Path) -> None:
    prog = billing_program()
    db = tmp_path / "billing.db"
    meter_id = "mtr_" + "a" * 60
    created = run(*prog, "--db", db, "meter", "create", "--display-name", "API tokens",
                  "--event-name", "api_tokens", "--aggregation", "sum", "--id", meter_id,
                  "--json")  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["created"] == 1793523600
    table = run(*prog, "--db", db, "meter", "list")
    assert table.returncode == 0 and meter_id in table.stdout and "\x1b" not in table.stdout
    as_csv = run(sys.executable, "-m", "billing_cli", "--db", db, "meter", "list", "--csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [r["id"] for r in rows] == [meter_id]
    # an error: exit code, one line on stderr, nothing on stdout, no traceback
    bad = run(*prog, "--db", db, "meter", "create", "--display-name", "x",
              "--event-name", "api tokens", "--aggregation", "sum")  # fmt: skip
    assert (bad.returncode, bad.stdout) == (4, "")
    assert bad.stderr.startswith("error: --event-name 'api tokens'")
    assert "Traceback" not in bad.stderr
    missing = run(*prog, "--db", tmp_path / "none.db", "meter", "list")
    assert missing.returncode == 3 and "no ledger at" in missing.stderr
    assert not (tmp_path / "none.db").exists()
    usage = run(*prog, "--db", db, "meter", "list", "--json", "--csv")
    assert usage.returncode == 2 and usage.stdout == ""


def test_default_db_is_in_the_working_directory(tmp_path: Path) -> None:
    result = run(*billing_program(), "customer", "create", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "billing.db").exists()


def test_root_help_in_a_process() -> None:
    result = run(*billing_program(), "--help")
    assert result.returncode == 0 and result.stderr == ""
    for command in ("meter", "product", "price", "customer", "subscription"):
        assert command in result.stdout
    assert "--db" in result.stdout and "--now" in result.stdout


def test_subcommand_help_in_a_process() -> None:
    result = run(sys.executable, "-m", "billing_cli", "price", "create", "--help")
    assert result.returncode == 0, result.stderr
    assert "--unit-amount-decimal" in result.stdout and "--tier" in result.stdout


# -- every command has help (in-process: fast) ---------------------------------------------
def _walk(command, path: tuple[str, ...] = ()):  # noqa: ANN001, ANN202
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _walk(sub, (*path, name))


COMMANDS = list(_walk(typer.main.get_command(app)))


@pytest.mark.parametrize(
    ("path", "command"), COMMANDS, ids=[" ".join(p) or "billing" for p, _ in COMMANDS]
)
def test_every_command_and_option_has_help(tmp_path: Path, path, command) -> None:  # noqa: ANN001
    assert (command.help or "").strip(), f"`billing {' '.join(path)}` has no help text"
    for param in command.params:
        if param.param_type_name == "option":
            assert (param.help or "").strip(), f"{' '.join(path)} {param.opts[0]} has no help"
        else:
            help_text = getattr(param, "help", None)
            assert (help_text or "").strip(), f"{' '.join(path)} argument {param.name} has no help"
    result = Billing(tmp_path / "b.db")(*path, "--help", db=None, now=None)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("Usage:") and result.stderr == ""
    assert not (tmp_path / "b.db").exists()


def test_closed_pipe_is_not_an_error(tmp_path: Path) -> None:
    """`billing product list --csv | head -1`: the reader stops early; exit 0, no noise."""
    from billing_cli.domain.models import Product
    from billing_cli.storage.sqlite import Ledger

    db = tmp_path / "big.db"
    led = Ledger(db, create=True)
    with led.write():
        for n in range(1500):
            led.insert_product(Product(f"prod_{n}", 0, "x" * 60, None, None, True))
    led.close()
    for fmt in ("--csv", "--json", None):
        # --all: the whole list must be written for the reader to close the pipe mid-way
        # (one page of 100 rows fits in the pipe's buffer, and its "more follow" note is right)
        argv = [*billing_program(), "--db", str(db), "product", "list", "--all"]
        argv += [fmt] if fmt else []
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.readline()
        proc.stdout.close()
        stderr = proc.stderr.read()
        assert proc.wait(timeout=60) == 0, (fmt, stderr)
        assert stderr == b"", (fmt, stderr)
