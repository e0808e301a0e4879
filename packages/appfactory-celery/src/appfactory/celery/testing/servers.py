"""Real servers for tests: Redis and RabbitMQ on loopback, found, else started, else skipped.

A server that already answers on its usual port (6379, 5672) is used as it
is; otherwise one is started on a free loopback port for this test run, from
``redis-server`` or ``rabbitmq-server`` on the ``PATH``, and stopped (by its
own process id) at the end. When neither is possible the test is skipped,
or fails when the ``CI`` environment variable is set: CI must run every
test that needs a server.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import typing as t
from dataclasses import dataclass

import pytest

from appfactory.core.testing import unavailable

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def redis_answers(port: int, timeout: float = 0.5) -> bool:
    """Whether a Redis server answers PING on ``127.0.0.1:port``."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def amqp_answers(port: int, timeout: float = 1.0) -> bool:
    """Whether an AMQP 0-9-1 broker answers on ``127.0.0.1:port`` as guest (needs kombu)."""
    from kombu import Connection  # type: ignore[attr-defined]

    url = f"amqp://guest:guest@{LOOPBACK}:{port}//"
    try:
        with Connection(url, connect_timeout=timeout) as conn:  # type: ignore[no-untyped-call]
            conn.ensure_connection(max_retries=1, timeout=timeout)
        return True
    except Exception:
        return False


@dataclass
class Server:
    """A server on loopback: ``url`` to reach it, ``process`` if this test run started it."""

    process: subprocess.Popen[bytes] | None
    url: str
    folder: str | None = None

    def stop(self) -> None:
        """Stop the process this test run started (by its id) and remove its folder."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


def wait_until(check: t.Callable[[], bool], seconds: float) -> bool:
    """Poll ``check`` until it holds or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def start_redis() -> Server:
    """Redis on 127.0.0.1:6379 if it answers, else a private redis-server on a free port."""
    if redis_answers(6379):
        return Server(None, f"redis://{LOOPBACK}:6379")
    if not shutil.which("redis-server"):
        unavailable("no Redis answers on 127.0.0.1:6379 and redis-server is not installed")
    return start_private_redis()


def start_rabbitmq() -> Server:
    """RabbitMQ on 127.0.0.1:5672 if it answers, else a private node on free ports."""
    if amqp_answers(5672):
        return Server(None, f"amqp://guest:guest@{LOOPBACK}:5672//")
    binary = shutil.which("rabbitmq-server")
    if binary is None:
        unavailable("no RabbitMQ answers on 127.0.0.1:5672 and rabbitmq-server is not installed")
    port, dist_port = free_port(), free_port()
    folder = tempfile.mkdtemp(prefix="appfactory-rabbitmq-")
    env = {
        **os.environ,
        "RABBITMQ_NODE_IP_ADDRESS": LOOPBACK,
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(dist_port),
        "RABBITMQ_NODENAME": f"appfactory-test-{port}@localhost",
        "RABBITMQ_MNESIA_BASE": folder,
        "RABBITMQ_LOG_BASE": folder,
        "RABBITMQ_ENABLED_PLUGINS_FILE": os.path.join(folder, "enabled_plugins"),
    }
    process = subprocess.Popen(
        [binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    server = Server(process, f"amqp://guest:guest@{LOOPBACK}:{port}//", folder)
    if not wait_until(lambda: amqp_answers(port), 60):
        server.stop()
        unavailable(f"rabbitmq-server started on port {port} but did not answer within 60 s")
    return server


def start_private_redis(password: str | None = None) -> Server:
    """A redis-server of this test run on a free loopback port (never the shared one)."""
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("redis-server is not installed, so no private Redis can be started")
    port = free_port()
    folder = tempfile.mkdtemp(prefix="appfactory-redis-")
    command = [binary, "--port", str(port), "--bind", LOOPBACK, "--save", "", "--appendonly",
               "no", "--dir", folder]  # fmt: skip
    if password is not None:
        command += ["--requirepass", password]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    auth = f":{password}@" if password is not None else ""
    server = Server(process, f"redis://{auth}{LOOPBACK}:{port}", folder)
    if not wait_until(lambda: _port_open(port), 10):
        server.stop()
        unavailable(f"redis-server started on port {port} but did not listen within 10 s")
    return server


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_server() -> t.Iterator[Server]:
    """A Redis server on loopback (the machine's, or one started for this run)."""
    server = start_redis()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def rabbitmq_server() -> t.Iterator[Server]:
    """A RabbitMQ server on loopback (the machine's, or one started for this run)."""
    server = start_rabbitmq()
    yield server
    server.stop()
