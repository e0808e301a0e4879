"""Several hosts: a broker host, a web host under gunicorn and worker hosts, with faults.

Each host is a network namespace of the test's own (:mod:`netns`), joined to
the others by a bridge, on private addresses that have no route off the
machine. The broker host runs a ``redis-server`` of the test's, bound to its
address; the web host runs the app under gunicorn, which sends the tasks
(``POST /send``); each worker host runs ``celery -A wapp.celery worker`` with
the same settings and its own instance folder. The test reaches the web side
and the ledger through Unix sockets in a shared folder, which no network
fault cuts, and counts each task's runs as ``docs/reliability.rst`` counts.

Marked ``reliability`` (``nox -s reliability``); needs root for ``ip netns``.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import typing as t
import uuid
from pathlib import Path

import pytest
from faults import Ledger, kill_tree
from netns import Host, Network, require_namespaces, start_in
from servers import unavailable, wait_until
from workers import WORKER_APPS

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.timeout(240),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="network namespaces (Linux)"),
]

#: Seconds between AMQP heartbeats: RabbitMQ closes a silent connection after two.
HEARTBEAT = 5

#: Exits 0 when an AMQP server answers on argv[1]:5672.
AMQP_PROBE = """
import socket, sys
with socket.create_connection((sys.argv[1], 5672), timeout=2) as sock:
    sock.sendall(b"AMQP\\x00\\x00\\x09\\x01")
    sys.exit(0 if sock.recv(8)[:1] == b"\\x01" else 1)
"""

#: Unacknowledged tasks of a lost worker come back after this many seconds.
VISIBILITY = 6
TRANSPORT_OPTIONS = {
    "visibility_timeout": VISIBILITY,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
    # Across a network, a cut that drops packets gives no error: without a socket
    # timeout a send waits until the link is back (docs/guide/deployment.rst).
    "socket_timeout": 5,
}


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over the web host's Unix socket."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("web", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class Cluster:
    """The hosts of one test and the processes it started on them (ended by PID)."""

    def __init__(self, network: Network, folder: Path, kind: str) -> None:
        self.kind = kind
        self.network = network
        self.folder = folder
        self.processes: list[subprocess.Popen[bytes]] = []
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self.broker = network.add_host("broker")
        self.broker_password = secrets.token_hex(16)
        self.ledger_socket = folder / "ledger.sock"
        self.settings = {
            "PACKAGES": repr(["wledger", "wsend"]),
            "LEDGER_URL": f"unix://{self.ledger_socket}?db=0",
            "SECRET_KEY": secrets.token_hex(32),
            "CELERY_TASK_DEFAULT_QUEUE": f"appfactory-hosts-{uuid.uuid4().hex[:8]}",
        }
        if kind == "redis":
            address = f":{self.broker_password}@{self.broker.address}:6379/0"
            self.settings["CELERY_BROKER_URL"] = f"redis://{address}"
            self.settings["CELERY_BROKER_TRANSPORT_OPTIONS"] = repr(TRANSPORT_OPTIONS)
        else:
            address = f"afhosts:{self.broker_password}@{self.broker.address}:5672//"
            self.settings["CELERY_BROKER_URL"] = f"amqp://{address}"
            # RabbitMQ gives back a lost worker's messages when it closes the
            # connection: after two missed heartbeats (Celery's default: 120 s).
            self.settings["CELERY_BROKER_HEARTBEAT"] = str(HEARTBEAT)

    def start(self) -> None:
        """Start the ledger and the broker host's Redis."""
        self._start_ledger()
        self._start_broker()
        self.ledger = Ledger(f"unix://{self.ledger_socket}?db=0")

    # -- processes ----------------------------------------------------------------------

    def _start(
        self, host: Host, argv: list[str], name: str, env: dict[str, str]
    ) -> subprocess.Popen[bytes]:
        process = start_in(host, argv, self.folder / f"{name}.log", env)
        self.processes.append(process)
        return process

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def _start_ledger(self) -> None:
        # In the root namespace, reached by every host through its Unix socket.
        command = ["redis-server", "--port", "0", "--unixsocket", str(self.ledger_socket),
                   "--unixsocketperm", "700", "--save", "", "--appendonly", "no",
                   "--dir", str(self.folder)]  # fmt: skip
        log = (self.folder / "ledger.log").open("wb")
        self.processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT))
        assert wait_until(self.ledger_socket.exists, 10), "the ledger Redis did not start"

    def _start_broker(self) -> None:
        if self.kind == "rabbitmq":
            self._start_rabbitmq()
            return
        command = ["redis-server", "--bind", self.broker.address, "--port", "6379", "--save",
                   "", "--appendonly", "no", "--dir", str(self.folder),
                   "--requirepass", self.broker_password]  # fmt: skip
        self._start(self.broker, command, "broker", dict(os.environ))
        answers = self._answers_on(self.broker)
        assert wait_until(answers, 10), (
            f"the broker host's Redis did not start:\n{self.log('broker')}"
        )

    def _start_rabbitmq(self) -> None:
        """A RabbitMQ node of the test's on the broker host, with a user of its own."""
        binary = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
        if not binary.exists():
            unavailable("RabbitMQ is not installed (/usr/lib/rabbitmq/bin/rabbitmq-server)")
        folder = self.folder / "rabbitmq"
        folder.mkdir()
        config = folder / "rabbitmq.conf"
        config.write_text(
            f"listeners.tcp.1 = {self.broker.address}:5672\n"
            "default_user = afhosts\n"
            f"default_pass = {self.broker_password}\n"
        )
        env = {
            **os.environ,
            "RABBITMQ_CONFIG_FILE": str(config),
            "RABBITMQ_CONF_ENV_FILE": str(folder / "rabbitmq-env.conf"),
            "RABBITMQ_NODENAME": f"af{self.network.tag}@localhost",
            "RABBITMQ_MNESIA_BASE": str(folder),
            "RABBITMQ_LOG_BASE": str(folder),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(folder / "enabled_plugins"),
        }
        self._start(self.broker, [str(binary)], "broker", env)
        probe = [sys.executable, "-c", AMQP_PROBE, self.broker.address]

        def answers() -> bool:
            return subprocess.run(self.broker.command(probe), capture_output=True).returncode == 0

        assert wait_until(answers, 120), f"RabbitMQ did not start:\n{self.log('broker')}"

    def _answers_on(self, host: Host) -> t.Callable[[], bool]:
        probe = ["redis-cli", "-h", host.address, "-p", "6379", "--no-auth-warning",
                 "-a", self.broker_password, "ping"]  # fmt: skip

        def answers() -> bool:
            done = subprocess.run(host.command(probe), capture_output=True, text=True)
            return done.stdout.strip() == "PONG"

        return answers

    def env(self, host: Host, **more: str) -> dict[str, str]:
        """The environment of the app on ``host``: the shared settings, its own instance."""
        instance = self.folder / f"instance-{host.name}"
        pythonpath = os.pathsep.join(filter(None, [str(WORKER_APPS), os.environ.get("PYTHONPATH")]))
        settings = {**self.settings, **more, "INSTANCE_PATH": str(instance)}
        return {
            **os.environ,
            **{f"WAPP_{k}": v for k, v in settings.items()},
            "PYTHONPATH": pythonpath,
        }

    def start_web(self) -> None:
        """The web host: the app under gunicorn, on a Unix socket of the shared folder."""
        host = self.network.add_host("web")
        self.web_socket = self.folder / "web.sock"
        command = [sys.executable, "-m", "gunicorn", "--bind", f"unix:{self.web_socket}",
                   "--workers", "2", "--timeout", "120", "wapp.app:create_app()"]  # fmt: skip
        self._start(host, command, "web", self.env(host))
        assert wait_until(self.web_socket.exists, 30), f"gunicorn did not start:\n{self.log('web')}"

    def start_worker(self, name: str, **more: str) -> subprocess.Popen[bytes]:
        """A new worker host ``name`` running ``celery -A wapp.celery worker``."""
        host = self.network.add_host(name)
        command = [sys.executable, "-m", "celery", "-A", "wapp.celery", "worker", "-P",
                   "prefork", "-c", "2", "-n", f"{name}@%h", "--loglevel=INFO",
                   "--without-gossip", "--without-mingle"]  # fmt: skip
        process = self._start(host, command, name, self.env(host, **more))
        ready = wait_until(lambda: " ready." in self.log(name) or process.poll() is not None, 60)
        assert ready, f"worker {name} did not start:\n{self.log(name)}"
        assert process.poll() is None, f"worker {name} ended:\n{self.log(name)}"
        self.workers[name] = process
        return process

    def run_on(self, name: str, argv: list[str], **more: str) -> subprocess.CompletedProcess[str]:
        """Run a command of the app on host ``name`` and wait for it."""
        host = self.network.hosts[name]
        return subprocess.run(host.command(argv), env=self.env(host, **more),
                              capture_output=True, text=True, timeout=120)  # fmt: skip

    # -- the web side -------------------------------------------------------------------

    def send(self, count: int, pause: float = 0.0) -> tuple[list[str], list[str]]:
        """Ask the web side to send ``count`` tasks: (accepted ids, failure messages)."""
        connection = UnixHTTPConnection(str(self.web_socket), timeout=180)
        try:
            body = json.dumps({"count": count, "pause": pause})
            connection.request("POST", "/send", body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            payload = response.read()
        finally:
            connection.close()
        assert response.status == 200, payload[:2000]
        answer = json.loads(payload)
        return answer["accepted"], answer["failed"]

    def close(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                kill_tree(process)


@pytest.fixture
def cluster(request: pytest.FixtureRequest) -> t.Iterator[Cluster]:
    """The hosts of a test, on Redis, or on the broker named by an indirect parameter."""
    require_namespaces()
    for program in ("redis-server", "redis-cli"):
        if shutil.which(program) is None:
            unavailable(f"{program} is not installed, so the broker host cannot run Redis")
    try:
        import gunicorn  # noqa: F401
    except ImportError:
        unavailable("gunicorn is not installed (nox -s reliability installs it)")
    # Short: Unix socket paths are limited to about 100 characters.
    folder = Path(tempfile.mkdtemp(prefix="afh-"))
    network = Network()
    made = Cluster(network, folder, getattr(request, "param", "redis"))
    try:
        made.start()
        yield made
    finally:
        made.close()
        network.close()
        shutil.rmtree(folder, ignore_errors=True)


def wait_all_done(cluster: Cluster, sent: list[str], seconds: float) -> float:
    """Wait until every accepted task completed (then 2 s for late duplicates);
    returns when the last one completed, on the monotonic clock."""
    expected = set(sent)

    def done() -> bool:
        return expected <= {k.decode() for k in cluster.ledger.client.smembers("done")}

    logs = "\n".join(cluster.log(name)[-1500:] for name in cluster.workers)
    assert wait_until(done, seconds), f"not all tasks completed in {seconds} s:\n{logs}"
    finished = time.monotonic()
    time.sleep(2)
    return finished


# -- a worker host's network cut, then restored --------------------------------------------


BOTH_BROKERS = pytest.mark.parametrize("cluster", ["redis", "rabbitmq"], indirect=True)


@BOTH_BROKERS
def test_worker_host_cut_then_restored(cluster: Cluster) -> None:
    cluster.start_web()
    cluster.start_worker("w1")
    cluster.start_worker("w2")
    sent, failed = cluster.send(200, pause=0.05)
    assert not failed
    assert wait_until(lambda: cluster.ledger.done() >= 20, 60)
    w1 = cluster.network.hosts["w1"]
    # Longer than the time the broker takes to give the cut host's messages to
    # another: Redis's visibility timeout, RabbitMQ's two missed heartbeats.
    seconds = 10 if cluster.kind == "redis" else 30
    w1.cut()
    cut_at = time.monotonic()
    done_while_cut = wait_until(lambda: cluster.ledger.done() >= len(sent), seconds)
    finished = time.monotonic()
    time.sleep(max(cut_at + seconds - time.monotonic(), 0))
    w1.restore()
    if not done_while_cut:
        finished = wait_all_done(cluster, sent, 120)
    time.sleep(2)  # late duplicates
    when = "while still cut" if done_while_cut else "after the restore"
    tally = cluster.ledger.tally(
        f"worker host's link cut {seconds} s, restored ({cluster.kind}, 2 worker hosts)",
        sent,
        last_done_after_cut=f"{finished - cut_at:.1f}s ({when})",
    )
    assert tally.lost == 0
    assert tally.completed == len(sent)


# -- a worker host killed, a new one added under load -----------------------------------------


@BOTH_BROKERS
def test_worker_host_killed_and_new_host_added_under_load(cluster: Cluster) -> None:
    cluster.start_web()
    cluster.start_worker("w1")
    cluster.start_worker("w2")
    sent, failed = cluster.send(300, pause=0.05)
    assert not failed
    assert wait_until(lambda: cluster.ledger.done() >= 30, 60)
    killed_at = time.monotonic()
    kill_tree(cluster.workers["w1"])
    cluster.start_worker("w3")
    more, failed = cluster.send(100, pause=0.05)
    assert not failed
    sent += more
    finished = wait_all_done(cluster, sent, 150)
    tally = cluster.ledger.tally(
        f"worker host SIGKILLed, new worker host added under load ({cluster.kind})",
        sent,
        last_done_after_kill=f"{finished - killed_at:.1f}s",
    )
    assert tally.lost == 0
    assert tally.completed == len(sent)
    # w3 took part: it ran tasks sent after it joined, or ones w1 held.
    assert "Task wledger.tasks.record" in cluster.log("w3")


# -- the broker host's link cut while the web side sends -------------------------------------


@pytest.mark.parametrize("seconds", [6, 40])
def test_broker_host_cut_while_the_web_side_sends(cluster: Cluster, seconds: int) -> None:
    cluster.start_web()
    cluster.start_worker("w1")
    cluster.start_worker("w2")
    sent: list[str] = []
    failures: list[str] = []
    stop = threading.Event()

    slowest = [0.0]

    def keep_sending() -> None:
        while not stop.is_set():
            began = time.monotonic()
            accepted, failed = cluster.send(10, pause=0.02)
            slowest[0] = max(slowest[0], time.monotonic() - began)
            sent.extend(accepted)
            failures.extend(failed)
            stop.wait(0.2)

    sender = threading.Thread(target=keep_sending)
    sender.start()
    try:
        time.sleep(3)
        cluster.broker.cut()
        cut_at = time.monotonic()
        time.sleep(seconds)
        cluster.broker.restore()
        time.sleep(4)
    finally:
        stop.set()
        sender.join(timeout=200)
    assert not sender.is_alive(), "the web side's sends did not end"
    finished = wait_all_done(cluster, sent, 150)
    tally = cluster.ledger.tally(
        f"broker host's link cut {seconds} s while the web side sends (redis)",
        sent,
        failed_sends=len(failures),
        slowest_batch_of_10=f"{slowest[0]:.1f}s",
        **({"failure": failures[0].partition(":")[0]} if failures else {}),
        last_done_after_cut=f"{finished - cut_at:.1f}s",
    )
    assert tally.lost == 0
    assert tally.completed == len(sent)
    # A send that failed said why, in one line naming the broker it could not reach.
    for message in failures:
        assert "\n" not in message
        assert cluster.broker.address in message, message
        assert cluster.broker_password not in message


# -- every host runs the same app -------------------------------------------------------------


def test_hosts_agree_and_a_host_with_other_packages_is_reported(cluster: Cluster) -> None:
    cluster.start_web()
    cluster.start_worker("w1")
    checks = {name: cluster.run_on(name, [sys.executable, "-m", "wapp.manage", "packages"])
              for name in ("web", "w1")}  # fmt: skip
    for name, done in checks.items():
        assert done.returncode == 0, f"{name}: {done.stdout}{done.stderr}"
    assert checks["web"].stdout == checks["w1"].stdout
    for name in ("web", "w1"):
        check = cluster.run_on(name, [sys.executable, "-m", "wapp.manage", "check"])
        assert check.returncode == 0, f"{name}: {check.stdout}{check.stderr}"
    # The health check of the deployment guide, from the web host, through the broker.
    ping = cluster.run_on("web", [sys.executable, "-m", "celery", "-A", "wapp.celery",
                                  "inspect", "ping", "--timeout", "10"])  # fmt: skip
    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert "w1@" in ping.stdout, ping.stdout
    assert "pong" in ping.stdout, ping.stdout

    # A worker host started with other PACKAGES: it reports the task it does not
    # know and puts it back, and the host that knows the task runs it.
    cluster.workers["w1"].send_signal(signal.SIGTERM)
    cluster.workers["w1"].wait(timeout=30)
    cluster.start_worker("odd", PACKAGES=repr(["mymodule"]))
    odd_packages = cluster.run_on("odd", [sys.executable, "-m", "wapp.manage", "packages"],
                                  PACKAGES=repr(["mymodule"]))  # fmt: skip
    assert odd_packages.stdout != checks["web"].stdout
    sent, failed = cluster.send(20)
    assert not failed
    assert wait_until(lambda: "is not registered in this worker" in cluster.log("odd"), 30)
    assert cluster.ledger.done() == 0
    cluster.start_worker("w2")
    wait_all_done(cluster, sent, 90)
    tally = cluster.ledger.tally("a worker host without the task's package (redis)", sent)
    assert tally.lost == 0
    assert "Received unregistered task" not in cluster.log("odd")


# -- throughput with 1, 2 and 3 worker hosts ---------------------------------------------------


def test_throughput_with_one_two_and_three_worker_hosts(cluster: Cluster) -> None:
    """5,000 trivial tasks through 1, 2 and 3 worker hosts, one after the other in one run.

    On a 2-core machine every host shares the same two cores: the figure shows
    that the broker path works across hosts, not how a bigger machine scales.
    """
    cluster.start_web()
    rates = {}
    for count in (1, 2, 3):
        cluster.ledger.client.flushdb()
        names = [f"t{count}w{n}" for n in range(1, count + 1)]
        for name in names:
            cluster.start_worker(name)
        began = time.monotonic()
        sent: list[str] = []
        for _ in range(10):
            accepted, failed = cluster.send(500)
            assert not failed
            sent += accepted
        wait_all_done(cluster, sent, 300)
        elapsed = time.monotonic() - began - 2  # wait_all_done waits 2 s more
        tally = cluster.ledger.tally(f"5,000 tasks, {count} worker host(s) (redis)", sent)
        assert tally.lost == 0
        rates[count] = len(sent) / elapsed
        for name in names:
            process = cluster.workers.pop(name)
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    from faults import report

    report("throughput, tasks/s with 1/2/3 worker hosts (2 cores shared by all): "
           + " / ".join(f"{rates[n]:.0f}" for n in (1, 2, 3)))  # fmt: skip
