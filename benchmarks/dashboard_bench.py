"""Dashboard meter page over a month of 1,000,000 events (issue 18 item 6), beside the CLI.

A real `billing serve` process (the dashboard mounted under /dashboard) answers signed-in GETs
of the meter page for one customer and for all customers, per day and per hour over November;
the CLI figure is `billing meter usage --window day --json` for the same customer and month.
The page reads the hourly roll-ups (one row per customer and hour), never the events.

Target (issue): the meter page answers in under 300 ms.

    .venv/bin/python benchmarks/dashboard_bench.py [--events 1000000] [--customers 100]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import PERIOD_END, PYCACHE, ROOT, build_ledger, percentiles, run_cli  # noqa: E402

NOW = PERIOD_END + 86400  # 2026-12-02: November is complete
KEY = "sk_test_bench"


def main() -> None:
    import httpx

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/billing-bench"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    db = args.workdir / f"dashboard_{args.events}_{args.customers}.db"
    built = build_ledger(db, customers=args.customers, events=args.events, import_now=NOW)
    if built:
        print(f"built {db.name}: {args.events:,} events imported in {built:.1f} s")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONPYCACHEPREFIX": str(PYCACHE)}
    one_total = ""
    server = subprocess.Popen(
        [sys.executable, "-m", "billing_cli", "--db", str(db), "--now", str(NOW), "serve",
         "--port", "0", "--api-key", KEY, "--quiet"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env, text=True,
    )  # fmt: skip
    try:
        assert server.stderr is not None
        base = ""
        while not base:
            line = server.stderr.readline()
            if not line:
                raise SystemExit("billing serve did not start")
            if "listening on " in line:
                base = line.split("listening on ")[1].split()[0]
        with httpx.Client(base_url=base, timeout=60) as client:
            for _ in range(100):
                try:
                    client.post("/dashboard/login", data={"api_key": KEY})
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            cases = {
                "one customer, per day": {"customer": "cus_00000", "window": "day"},
                "one customer, per hour": {"customer": "cus_00000", "window": "hour"},
                f"all {args.customers} customers, per day": {"window": "day"},
                f"all {args.customers} customers, per hour": {"window": "hour"},
            }
            for name, params in cases.items():
                query = {**params, "start": "2026-11-01", "end": "2026-11-30"}
                page = client.get("/dashboard/meters/mtr_tokens", params=query)  # warm-up
                assert page.status_code == 200, page.text[:500]
                samples = []
                for _ in range(args.runs):
                    started = time.perf_counter()
                    client.get("/dashboard/meters/mtr_tokens", params=query)
                    samples.append(time.perf_counter() - started)
                p50, p90 = percentiles(samples)
                total = page.text.split('id="usage-total">')[1].split("<")[0]
                if params.get("customer") == "cus_00000":
                    one_total = total
                print(f"meter page, {name:<28} p50 {p50:6.1f} ms  p90 {p90:6.1f} ms  total {total}")
    finally:
        server.terminate()
        server.wait(timeout=10)
    rng = ("--start", "2026-11-01T00:00:00Z", "--end", "2026-12-01T00:00:00Z")
    argv = ("meter", "usage", "mtr_tokens", "--customer", "cus_00000", *rng, "--window", "day")
    run_cli(db, NOW, *argv, "--json")  # warm-up
    cli = []
    for _ in range(max(5, args.runs // 2)):
        started = time.perf_counter()
        done = run_cli(db, NOW, *argv, "--json")
        cli.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(done.stderr)
    c50, c90 = percentiles(cli)
    print(f"CLI meter usage --window day, one customer   p50 {c50:6.0f} ms  p90 {c90:6.0f} ms")
    whole = run_cli(db, NOW, *argv[:-2], "--json")  # no --window: the range's total
    # aggregated_value is a JSON number (Stripe's shape): read it exactly, not as a float
    cli_total = json.loads(whole.stdout, parse_float=Decimal)["data"][0]["aggregated_value"]
    print(f"CLI total for cus_00000: {cli_total} (the page's: {one_total})")
    if Decimal(cli_total) != Decimal(one_total):
        raise SystemExit("the meter page's total differs from `billing meter usage`")


if __name__ == "__main__":
    main()
