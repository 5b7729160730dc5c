"""Start-up time of the CLI against the floor set by its two libraries, in the same run.

    .venv/bin/python benchmarks/startup_bench.py [--runs 21]

Each case is a fresh process, as a shell or cron starts it: `python -c "import typer, rich"`
(the floor: billing_cli needs both), `billing --help`, `billing --version`, `billing meter list`
and `billing event send` (one event into a small ledger, a new identifier per run). Modules are
byte-compiled once into a private cache first, as pip does at install. The cases alternate, so
a machine busy with something else slows all of them alike; the median of each is printed,
plus which of billing_cli's heavy modules each case imported. A script that prints figures,
not a test (tests/test_startup.py checks the imports).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOW = "2026-11-01T09:00:00Z"
HEAVY = ("billing_cli.storage", "billing_cli.domain.invoicing", "rich")


def _env(cache: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONPYCACHEPREFIX": str(cache)}
    for key in ("BILLING_DB", "BILLING_NOW", "BILLING_DEBUG", "PYTHONDONTWRITEBYTECODE"):
        env.pop(key, None)
    return env


def _billing(db: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "billing_cli", "--db", str(db), "--now", NOW, *args]


def _imports(argv: list[str], env: dict[str, str]) -> list[str]:
    """Which HEAVY packages the command imported (via -X importtime on stderr)."""
    probe = [argv[0], "-X", "importtime", *argv[1:]]
    err = subprocess.run(probe, capture_output=True, text=True, env=env).stderr
    names = {line.rsplit("|", 1)[-1].strip() for line in err.splitlines() if "|" in line}
    return [h for h in HEAVY if any(n == h or n.startswith(h + ".") for n in names)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="billing-startup-"))
    cache = work / "pycache"
    env = _env(cache)
    db = work / "billing.db"
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(ROOT / "billing_cli")],
        env=env, check=True,
    )  # fmt: skip
    for setup in (
        ("meter", "create", "--display-name", "T", "--event-name", "t", "--aggregation", "sum"),
        ("customer", "create", "--id", "cus_1"),
    ):
        subprocess.run(_billing(db, *setup), env=env, check=True, capture_output=True)
    counter = iter(range(10**9))
    cases = {
        "python -c 'import typer, rich'": lambda: [sys.executable, "-c", "import typer, rich"],
        "billing --help": lambda: _billing(db, "--help"),
        "billing --version": lambda: _billing(db, "--version"),
        "billing meter list": lambda: _billing(db, "meter", "list"),
        "billing event send": lambda: _billing(
            db,
            "event",
            "send",
            "--event-name",
            "t",
            "--customer",
            "cus_1",
            "--value",
            "1",
            "--identifier",
            f"ev{next(counter)}",
        ),  # fmt: skip
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.runs):
        for name, argv in cases.items():
            start = time.perf_counter()
            done = subprocess.run(argv(), env=env, capture_output=True)
            times[name].append((time.perf_counter() - start) * 1000)
            assert done.returncode == 0, (name, done.stderr)
    floor = statistics.median(times["python -c 'import typer, rich'"])
    print(f"{'case':34} {'p50 ms':>8} {'vs floor':>9}  heavy modules imported")
    for name, argv in cases.items():
        p50 = statistics.median(times[name])
        heavy = ", ".join(_imports(argv(), env)) if name.startswith("billing") else "-"
        print(f"{name:34} {p50:8.1f} {p50 / floor:8.2f}x  {heavy or 'none'}")


if __name__ == "__main__":
    main()
