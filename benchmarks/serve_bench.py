"""`billing serve` throughput and latency, with the official Stripe SDK as the client.

    .venv/bin/python benchmarks/serve_bench.py [--events 100000] [--customers 1000]
                                               [--clients 4] [--latency-requests 2000]
                                               [--compare-with SRC]

Generates N events (random identifiers, `stripe_customer_id,value` payloads, timestamps in the
past month, as import_bench.py does) and, in the same run:

1. imports them as a CSV file with `billing event import` (a subprocess, start-up included)
   into a fresh ledger: the baseline, events/s;
2. sends the same events to `billing serve` on another fresh ledger through the v2 meter event
   stream: one meter event session, then `--clients` processes, each sending its share in
   requests of 100 events with `client.v2.billing.meter_event_stream.create`, started together;
   events/s from the first request to the last answer, and its ratio to the import's (aim:
   >= 0.5), after checking that the ledger holds exactly N events; with the CPU seconds the
   server and the clients spent meanwhile. `--compare-with SRC` streams the same events through
   a server run from SRC's billing_cli too (e.g. `git archive OLD billing_cli | tar -x -C SRC`),
   so before and after are measured in the same run against the same import;
3. times `--latency-requests` single `client.v1.billing.meter_events.create` calls, one after
   the other from one client: p50 and p99 of the round trip as the SDK sees it.

The server runs with `--quiet` (no access log), as a busy deployment would. Client processes
share the machine with the server, so on a 2-core machine the figures include that contention.
This is a script that prints figures, not a test.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

from import_bench import NOW, generate, setup_ledger  # noqa: E402

from tests.serve_harness import billing_env, running_server  # noqa: E402

BATCH = 100


def _iso(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ts))


def read_events(path: Path) -> list[dict]:
    events = []
    with path.open() as fh:
        next(fh)
        for line in fh:
            name, ident, ts, customer, value = line.rstrip("\n").split(",")
            events.append(
                {
                    "event_name": name,
                    "identifier": ident,
                    "timestamp": _iso(int(ts)),
                    "payload": {"stripe_customer_id": customer, "value": value},
                }
            )
    return events


def stream_share(url: str, token: str, share: list[dict], start: multiprocessing.Event) -> None:
    import stripe

    client = stripe.StripeClient(
        token, base_addresses={"meter_events": url, "api": url}, max_network_retries=0
    )
    start.wait()
    for i in range(0, len(share), BATCH):
        client.v2.billing.meter_event_stream.create({"events": share[i : i + BATCH]})


def count_events(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM meter_events").fetchone()[0]


def bench_import(work: Path, csv_path: Path, customers: int, events: int) -> float:
    db = work / "import.db"
    setup_ledger(db, customers)
    env = billing_env(PYTHONPYCACHEPREFIX=str(work / "pycache"))
    argv = [sys.executable, "-m", "billing_cli", "--db", str(db), "--now", NOW,
            "event", "import", str(csv_path), "--json"]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, env=env)
    elapsed = time.perf_counter() - started
    assert count_events(db) == events
    return elapsed


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bench_stream(
    work: Path, events: list[dict], customers: int, clients: int, source: Path | None = None
) -> tuple[float, float, float]:
    """Seconds from the first request to the last answer, and the CPU seconds the server and
    the clients spent meanwhile (where the cores went). `source`: run the server from that
    folder's billing_cli (another checkout) instead of this one's."""
    db = work / f"stream-{os.urandom(4).hex()}.db"
    setup_ledger(db, customers)
    env = billing_env(PYTHONPATH=str(source)) if source is not None else None
    with running_server(db, now=NOW, env=env) as server:
        token = server.client().v2.billing.meter_event_session.create().authentication_token
        shares = [events[i::clients] for i in range(clients)]
        ctx = multiprocessing.get_context("fork")
        start = ctx.Event()
        procs = [
            ctx.Process(target=stream_share, args=(server.url, token, share, start))
            for share in shares
        ]
        for proc in procs:
            proc.start()
        time.sleep(1.0)  # every client imported the SDK and waits
        server_cpu, clients_cpu = cpu_seconds(server.proc.pid), children_cpu()
        started = time.perf_counter()
        start.set()
        for proc in procs:
            proc.join()
        elapsed = time.perf_counter() - started
        server_cpu = cpu_seconds(server.proc.pid) - server_cpu
        clients_cpu = children_cpu() - clients_cpu
        assert all(proc.exitcode == 0 for proc in procs), [p.exitcode for p in procs]
        assert count_events(db) == len(events), (count_events(db), len(events))
    return elapsed, server_cpu, clients_cpu


def bench_latency(work: Path, customers: int, requests: int) -> list[float]:
    db = work / "latency.db"
    setup_ledger(db, customers)
    with running_server(db, now=NOW) as server:
        client = server.client()
        times = []
        for i in range(requests + 50):
            started = time.perf_counter()
            client.v1.billing.meter_events.create(
                {
                    "event_name": "api_tokens",
                    "identifier": f"lat-{i}",
                    "payload": {"stripe_customer_id": f"cus_{i % customers:05d}", "value": "1"},
                }
            )
            times.append(time.perf_counter() - started)
    return times[50:]  # the first requests warm up connections and caches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=1_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--latency-requests", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--compare-with",
        type=Path,
        metavar="SRC",
        help="also stream through a server run from SRC's billing_cli (say, a `git archive` "
        "of the commit before a change), in the same run, against the same import",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="serve-bench-") as tmp:
        work = Path(tmp)
        csv_path = work / "events.csv"
        generate(csv_path, args.events, args.customers, shuffle=False, seed=args.seed)
        events = read_events(csv_path)
        load_before = os.getloadavg()[0]
        import_s = bench_import(work, csv_path, args.customers, args.events)
        compared = None
        if args.compare_with is not None:
            compared = bench_stream(
                work, events, args.customers, args.clients, args.compare_with.resolve()
            )
        stream_s, server_cpu, clients_cpu = bench_stream(work, events, args.customers, args.clients)
        latencies = bench_latency(work, args.customers, args.latency_requests)
        load_after = os.getloadavg()[0]
    import_rate = args.events / import_s
    stream_rate = args.events / stream_s
    cuts = statistics.quantiles(latencies, n=100)
    print(
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, load {load_before:.2f} → {load_after:.2f}"
    )
    print(f"events: {args.events:,} for {args.customers:,} customers")
    print(f"billing event import:      {import_rate:10,.0f} events/s ({import_s:.2f} s)")
    print(
        f"v2 stream, {args.clients} clients × {BATCH}/request: {stream_rate:10,.0f} events/s "
        f"({stream_s:.2f} s)"
    )
    print(
        f"  CPU meanwhile: server {server_cpu:.2f} s, clients {clients_cpu:.2f} s "
        f"(the stream's {stream_s:.2f} s on {os.cpu_count()} CPUs)"
    )
    print(f"ratio stream / import:     {stream_rate / import_rate:.2f}  (aim >= 0.5)")
    if compared is not None:
        other_s, other_server, other_clients = compared
        print(
            f"v2 stream from {args.compare_with}: {args.events / other_s:10,.0f} events/s "
            f"({other_s:.2f} s; CPU: server {other_server:.2f} s, clients {other_clients:.2f} s)"
            f", ratio {args.events / other_s / import_rate:.2f}"
        )
    print(
        f"v1 meter_events.create, {len(latencies):,} requests: "
        f"p50 {cuts[49] * 1000:.2f} ms, p99 {cuts[98] * 1000:.2f} ms"
    )


if __name__ == "__main__":
    main()
