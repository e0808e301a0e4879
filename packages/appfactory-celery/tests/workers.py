"""Real ``celery worker`` processes for the tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import typing as t
import uuid
from pathlib import Path

WORKER_APPS = Path(__file__).parent / "worker_apps"


class Worker:
    """A ``celery -A <module> worker`` process started by a test (stopped by its PID)."""

    def __init__(
        self,
        module: str,
        env: dict[str, str],
        log: Path,
        pool: str = "solo",
        concurrency: int = 1,
    ) -> None:
        self.name = f"w{uuid.uuid4().hex[:8]}@localhost"
        self.log = log
        command = [
            sys.executable, "-m", "celery", "-A", module, "worker",
            "-P", pool, "-c", str(concurrency), "-n", self.name, "--loglevel=INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        pythonpath = os.pathsep.join(filter(None, [str(WORKER_APPS), os.environ.get("PYTHONPATH")]))
        self._log_file = log.open("wb")
        self.process = subprocess.Popen(
            command,
            env={**os.environ, **env, "PYTHONPATH": pythonpath},
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def output(self) -> str:
        """What the worker printed so far."""
        return self.log.read_text(errors="replace")

    def wait_ready(self, seconds: float = 60) -> None:
        """Wait until the worker says it is ready; fail with its output otherwise."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if " ready." in self.output():
                return
            if self.process.poll() is not None:
                raise AssertionError(
                    f"worker exited with {self.process.returncode}:\n{self.output()}"
                )
            time.sleep(0.1)
        raise AssertionError(f"worker not ready within {seconds} s:\n{self.output()}")

    def stop(self, seconds: float = 20) -> None:
        """Warm shutdown (SIGTERM), then SIGKILL if it does not end in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=seconds)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self._log_file.close()


def start_worker(module: str, env: dict[str, str], log: Path, **options: t.Any) -> Worker:
    """Start a worker and wait until it is ready."""
    worker = Worker(module, env, log, **options)
    try:
        worker.wait_ready()
    except BaseException:
        worker.stop()
        raise
    return worker
