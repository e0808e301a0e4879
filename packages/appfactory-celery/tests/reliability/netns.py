"""Hosts of a test's own on this machine: network namespaces joined by a bridge.

A :class:`Network` makes a "switch" namespace holding a bridge, and one
namespace per host, each with a veth pair whose other end is a port of the
bridge. Addresses are private (``10.213.<net>.<n>/24``) and no namespace has a
route anywhere else, so nothing a test sends can leave the machine; the root
namespace is never touched (the veth ends are created inside the namespaces).
Everything is deleted when the network closes.

The test itself stays in the root namespace and reaches the processes of the
hosts through files and Unix sockets in a shared folder (the ledger, the web
side's socket), which no network fault cuts.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import typing as t
import uuid
from dataclasses import dataclass
from pathlib import Path

from servers import unavailable


def _ip(*args: str) -> None:
    """Run ``ip ARGS``; fail with its message."""
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")


def require_namespaces() -> None:
    """Skip (fail under CI) unless ``ip netns`` can be used here."""
    if shutil.which("ip") is None:
        unavailable("iproute2's `ip` is not installed, so no test hosts can be made")
    if os.geteuid() != 0:
        unavailable("network namespaces need root (run the hosts tests as root)")
    probe = f"afprobe{uuid.uuid4().hex[:6]}"
    try:
        _ip("netns", "add", probe)
    except RuntimeError as exc:
        unavailable(f"network namespaces cannot be made here: {exc}")
    _ip("netns", "del", probe)


@dataclass
class Host:
    """One namespace: a name, its address and the interface that joins it to the switch."""

    name: str
    namespace: str
    address: str
    interface: str

    def command(self, argv: t.Sequence[str]) -> list[str]:
        """``argv`` run inside this host."""
        return ["ip", "netns", "exec", self.namespace, *argv]

    def cut(self) -> None:
        """Pull the cable: set this host's link down (its connections hang or fail)."""
        _ip("-n", self.namespace, "link", "set", "dev", self.interface, "down")

    def restore(self) -> None:
        """Put the cable back."""
        _ip("-n", self.namespace, "link", "set", "dev", self.interface, "up")


class Network:
    """A switch and the hosts plugged into it; ``close()`` deletes them all."""

    def __init__(self, net: int = 0) -> None:
        self.tag = uuid.uuid4().hex[:6]
        self.prefix = f"10.213.{net}"
        self.switch = f"af{self.tag}-sw"
        self.hosts: dict[str, Host] = {}
        self._namespaces: list[str] = []
        self._add_namespace(self.switch)
        _ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.switch, "link", "set", "br0", "up")

    def _add_namespace(self, name: str) -> None:
        _ip("netns", "add", name)
        self._namespaces.append(name)
        _ip("-n", name, "link", "set", "lo", "up")

    def add_host(self, name: str) -> Host:
        """A new host with the next address, plugged into the switch."""
        number = len(self.hosts) + 1
        namespace = f"af{self.tag}-{name}"
        self._add_namespace(namespace)
        inside, port = f"eth{number}", f"port{number}"
        _ip("link", "add", inside, "netns", namespace, "type", "veth",
            "peer", "name", port, "netns", self.switch)  # fmt: skip
        _ip("-n", self.switch, "link", "set", port, "master", "br0")
        _ip("-n", self.switch, "link", "set", port, "up")
        address = f"{self.prefix}.{number}"
        _ip("-n", namespace, "addr", "add", f"{address}/24", "dev", inside)
        _ip("-n", namespace, "link", "set", inside, "up")
        host = Host(name, namespace, address, inside)
        self.hosts[name] = host
        return host

    def close(self) -> None:
        """End what still runs in the namespaces (programs that the test's own
        programs started, such as RabbitMQ's epmd), then delete them."""
        for name in reversed(self._namespaces):
            pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True)
            for pid in pids.stdout.split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        self._namespaces.clear()


def start_in(
    host: Host, argv: t.Sequence[str], log: Path, env: dict[str, str]
) -> subprocess.Popen[bytes]:
    """Start ``argv`` inside ``host`` (``ip netns exec`` execs it: the PID is the program's)."""
    with log.open("wb") as out:
        return subprocess.Popen(
            host.command(argv), env=env, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
