"""A real `billing serve` process on a free loopback port, and the official Stripe SDK on it.

    with running_server(db, now="2026-11-01T09:00:00Z") as server:
        client = server.client()                      # stripe.StripeClient on this server
        client.v1.billing.meters.create({...})
    assert server.returncode == 0                      # SIGTERM → a clean exit

The server is started with `--port 0` and announces the port it got on stderr; stderr is
drained by a thread (the access log must never fill a pipe and stall the server) and kept in
`server.stderr` for assertions.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import stripe

ROOT = Path(__file__).resolve().parents[1]
KEY = "sk_test_serve_harness_0123456789"
_LISTENING = re.compile(r"listening on (http://[^ ]+)")


def billing_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BILLING_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


class RunningServer:
    def __init__(self, proc: subprocess.Popen[str], url: str, lines: list[str]) -> None:
        self.proc = proc
        self.url = url
        self.key = KEY
        self._lines = lines
        self.returncode: int | None = None

    @property
    def stderr(self) -> str:
        return "".join(self._lines)

    def client(self, key: str | None = None, **options: Any) -> stripe.StripeClient:
        options.setdefault("max_network_retries", 0)
        return stripe.StripeClient(
            key or self.key,
            base_addresses={"api": self.url, "meter_events": self.url},
            **options,
        )

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        self.returncode = self.proc.wait(timeout=timeout)
        return self.returncode


def _drain(stream: Any, lines: list[str], ready: threading.Event) -> None:
    for line in stream:
        lines.append(line)
        if _LISTENING.search(line):
            ready.set()
    ready.set()


@contextlib.contextmanager
def running_server(
    db: Path | str,
    *,
    now: str | None = None,
    keys: tuple[str, ...] = (KEY,),
    quiet: bool = True,
    env: dict[str, str] | None = None,
    prefix: Sequence[str] = (),
) -> Iterator[RunningServer]:
    """`prefix`: a command the server runs under (`setpriv`, to let file permissions apply)."""
    args = [*prefix, sys.executable, "-m", "billing_cli", "--db", str(db)]
    if now is not None:
        args += ["--now", now]
    args += ["serve", "--port", "0"]
    for key in keys:
        args += ["--api-key", key]
    if quiet:
        args.append("--quiet")
    proc = subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env or billing_env(),
        cwd=db.parent if isinstance(db, Path) else None,
    )
    lines: list[str] = []
    ready = threading.Event()
    threading.Thread(target=_drain, args=(proc.stderr, lines, ready), daemon=True).start()
    deadline = time.monotonic() + 60
    while not ready.wait(0.05):
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("billing serve did not start:\n" + "".join(lines))
    found = _LISTENING.search("".join(lines))
    if found is None:
        proc.wait(timeout=10)
        raise AssertionError(f"billing serve exited {proc.returncode}:\n" + "".join(lines))
    server = RunningServer(proc, found[1], lines)
    try:
        yield server
    finally:
        if server.returncode is None:
            server.stop()
