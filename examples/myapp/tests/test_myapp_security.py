"""The real ``myapp`` process: it listens on loopback only, and never evaluates a variable."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import typing as t
import urllib.request
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).parent / "myapp"


def environment(instance: Path, **variables: str) -> dict[str, str]:
    """The caller's environment without MYAPP_/FLASK_ variables, plus ``variables``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MYAPP_", "FLASK_"))}
    return {**base, "MYAPP_INSTANCE_PATH": str(instance), **variables}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listening_addresses(port: int) -> list[str]:
    """Local addresses of the TCP sockets listening on ``port`` (Linux's /proc/net/tcp*)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as handle:
            for row in list(handle)[1:]:
                fields = row.split()
                address, hex_port = fields[1].split(":")
                if int(hex_port, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                    found.append(address)
    return found


def refused(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


@pytest.fixture
def running_myapp(instance_path: Path, tmp_path: Path) -> t.Iterator[tuple[int, str]]:
    """``myapp run`` on a free port with no --host; stopped (by its PID) after the test."""
    port = free_port()
    log = tmp_path / "run.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(SCRIPT), "run", "--port", str(port), "--no-reload"],
            env=environment(instance_path, MYAPP_SECRET_KEY="run-test-key"),
            cwd=tmp_path,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while not listening_addresses(port):
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, f"not listening in 30 s:\n{log.read_text()}"
                time.sleep(0.1)
            yield port, log.read_text()
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's /proc/net/tcp")
@pytest.mark.timeout(90)
def test_run_listens_on_loopback_only(running_myapp: tuple[int, str]) -> None:
    port, _ = running_myapp

    # 0100007F is 127.0.0.1; a server on every address would show 00000000 (or ::).
    assert listening_addresses(port) == ["0100007F"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
        assert response.status == 200
        assert b"Hello, World!" in response.read()
    # Another loopback address of the machine: refused, as every non-127.0.0.1 one is.
    assert refused("127.0.0.2", port)


def test_planted_code_in_a_variable_is_never_run(instance_path: Path, tmp_path: Path) -> None:
    target = tmp_path / "evaluated"
    code = f"__import__('os').system('touch {target}')"

    shown = subprocess.run(
        [str(SCRIPT), "config", "show", "GREETING"],
        env=environment(instance_path, MYAPP_GREETING=code),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    typed = subprocess.run(
        [str(SCRIPT), "config", "show", "DEBUG"],
        env=environment(instance_path, MYAPP_DEBUG=code),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[0] == f"GREETING = {code!r}"
    assert typed.returncode == 1
    assert typed.stderr.startswith("Error: Environment variable MYAPP_DEBUG=")
    assert not target.exists(), "a variable's value was evaluated"
