"""The harness: interleaved runs, paired ratios, child processes, the table and the JSON.

Every metric measures up to four systems in the same run, in rounds: in one
round each system is measured once, the order alternating between rounds
(floor ours peer, then peer ours floor, ...), so that drift on a noisy machine
hits every system alike. A round's measurement of a system divided by the same
round's measurement of the floor is one *paired ratio*; a metric reports the
median of its paired ratios with their minimum and maximum, and the median of
each system's measurements. No figure comes from a single round.
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time
import typing as t
from pathlib import Path

#: The systems of a metric, in the order of the table. ``floor`` is always present;
#: ``peer2`` is a second peer (Flask's own Celery pattern in the task metrics).
SYSTEMS = ("floor", "ours", "peer", "peer2")
#: The least number of rounds of any figure.
MIN_RUNS = 2
#: The repository's root, put on the children's ``sys.path``.
ROOT = Path(__file__).resolve().parent.parent
#: Environment variables of the systems under test that a child must not inherit.
PRIVATE_PREFIXES = ("BENCHAPP_", "BENCH_", "FLASK_", "CELERY_")


T = t.TypeVar("T")


class SystemFailed(Exception):
    """A system under test failed (as opposed to being slow): the run fails."""


@dataclasses.dataclass(frozen=True)
class Summary:
    """The median, minimum and maximum of some values."""

    median: float
    min: float
    max: float

    @classmethod
    def of(cls, values: t.Sequence[float]) -> Summary:
        """Summarise ``values`` (at least one).

        >>> Summary.of([3.0, 1.0, 2.0])
        Summary(median=2.0, min=1.0, max=3.0)
        """
        if not values:
            raise ValueError("no values to summarise")
        return cls(statistics.median(values), min(values), max(values))

    def as_dict(self) -> dict[str, float]:
        return {"median": self.median, "min": self.min, "max": self.max}


def paired_ratios(values: t.Sequence[float], floor: t.Sequence[float]) -> list[float]:
    """``values[i] / floor[i]`` for every round ``i``.

    >>> paired_ratios([2.0, 3.0], [1.0, 2.0])
    [2.0, 1.5]
    """
    if len(values) != len(floor):
        raise ValueError(f"unpaired runs: {len(values)} values for {len(floor)} floor values")
    if any(f <= 0 for f in floor):
        raise ValueError(f"a floor value is not positive: {list(floor)!r}")
    return [v / f for v, f in zip(values, floor, strict=True)]


def round_order(systems: t.Sequence[str], round_index: int) -> list[str]:
    """The order of ``systems`` in a round: as given in even rounds, reversed in odd ones.

    >>> [round_order(["floor", "ours", "peer"], i) for i in range(2)]
    [['floor', 'ours', 'peer'], ['peer', 'ours', 'floor']]
    """
    ordered = list(systems)
    return ordered if round_index % 2 == 0 else ordered[::-1]


def interleave(
    systems: t.Sequence[str], rounds: int, measure: t.Callable[[str, int], float]
) -> dict[str, list[float]]:
    """Call ``measure(system, round)`` for every system in every round, alternating the order.

    Returns each system's measurements in round order (so index ``i`` pairs up).
    """
    if rounds < MIN_RUNS:
        raise ValueError(f"{rounds} round(s): every figure needs at least {MIN_RUNS}")
    samples: dict[str, list[float]] = {system: [] for system in systems}
    for index in range(rounds):
        for system in round_order(systems, index):
            samples[system].append(measure(system, index))
    return samples


@dataclasses.dataclass
class Context:
    """What every metric module's ``run`` gets: the mode, the workspace and a logger."""

    quick: bool
    #: A :class:`benchmarks.synthetic.Workspace`.
    workspace: t.Any
    #: Where the peers are installed when they are kept out of the environment
    #: (``pip install --target``), so that only the peer's processes see them.
    peer_site: Path | None = None
    log: t.Callable[[str], None] = lambda message: print(message, file=sys.stderr, flush=True)

    def env(
        self,
        paths: t.Sequence[str | Path] = (),
        variables: t.Mapping[str, str] | None = None,
        peer: bool = True,
    ) -> dict[str, str]:
        """:func:`child_env` with the bytecode kept in the workspace.

        ``peer``: whether the child sees the peers' folder (``--peer-site``).
        """
        extra = [self.peer_site] if peer and self.peer_site is not None else []
        return child_env([*paths, *extra], variables, pycache=self.workspace.root / "pycache")

    def pick(self, full: T, quick: T) -> T:
        """``quick`` in quick mode, else ``full``."""
        return quick if self.quick else full


# -- goals and results -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Goal:
    """What a case must show, as text and as a test of the case."""

    text: str
    test: t.Callable[[Case], bool]

    @classmethod
    def ratio_at_most(cls, limit: float, system: str = "ours") -> Goal:
        """The median paired ratio of ``system`` to the floor is at most ``limit``."""
        return cls(f"{system}/floor <= {limit:.2f}", lambda c: c.ratio(system).median <= limit)

    @classmethod
    def ratio_at_least(cls, limit: float, system: str = "ours") -> Goal:
        """The median paired ratio of ``system`` to the floor is at least ``limit``."""
        return cls(f"{system}/floor >= {limit:.2f}", lambda c: c.ratio(system).median >= limit)

    @classmethod
    def median_at_most(cls, limit: float, unit: str, system: str = "ours") -> Goal:
        """The median measurement of ``system`` is at most ``limit``."""
        return cls(
            f"{system} median <= {limit:g} {unit}", lambda c: c.absolute(system).median <= limit
        )

    def __and__(self, other: Goal) -> Goal:
        return Goal(f"{self.text}; {other.text}", lambda c: self.test(c) and other.test(c))


@dataclasses.dataclass
class Case:
    """One case of a metric (``n_10``, ``solo``...): every system's measurements."""

    case: str
    #: Each system's measurements in round order; index ``i`` of every list is round ``i``.
    samples: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    goal: Goal | None = None
    #: Facts checked along the way (``{"imports_celery": False}``), reported as they are.
    checks: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    notes: list[str] = dataclasses.field(default_factory=list)
    #: Why the case did not run (a missing broker, for example); not a failure.
    skipped: str | None = None
    #: A system under test failed: the run fails.
    error: str | None = None

    @property
    def runs(self) -> int:
        return min((len(v) for v in self.samples.values()), default=0)

    @property
    def systems(self) -> list[str]:
        return [s for s in SYSTEMS if s in self.samples]

    def absolute(self, system: str) -> Summary:
        return Summary.of(self.samples[system])

    def ratio(self, system: str) -> Summary:
        return Summary.of(paired_ratios(self.samples[system], self.samples["floor"]))

    @property
    def goal_met(self) -> bool | None:
        if self.goal is None or self.error or self.skipped or not self.samples:
            return None
        return bool(self.goal.test(self))


@dataclasses.dataclass
class Metric:
    """A metric of the issue's table and its cases."""

    name: str
    title: str
    unit: str
    #: ``"lower"`` (times, memory) or ``"higher"`` (throughput) is better.
    better: str
    #: What each system is in this metric (``{"floor": "plain Flask factory", ...}``).
    systems: dict[str, str]
    goal: str
    cases: list[Case] = dataclasses.field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(case.error for case in self.cases)


# -- child processes ---------------------------------------------------------------------


def child_env(
    paths: t.Sequence[str | Path] = (),
    variables: t.Mapping[str, str] | None = None,
    pycache: str | Path | None = None,
) -> dict[str, str]:
    """The environment of a child: ours without the systems' variables, plus ``variables``.

    ``paths`` come first on ``PYTHONPATH``, then the repository's root (for
    ``benchmarks``). Bytecode is written, under ``pycache`` when given (so no
    ``__pycache__`` folder appears in the checkout): a user's installed
    packages have theirs, and a cold start must not compile every module.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(PRIVATE_PREFIXES)}
    env["PYTHONPATH"] = os.pathsep.join([*map(str, paths), str(ROOT)])
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTHONSTARTUP", None)
    if pycache is not None:
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    env.update(variables or {})
    return env


def run_child(
    module: str, args: t.Sequence[str], env: t.Mapping[str, str], timeout: float = 900
) -> t.Any:
    """Run ``python -m module args`` and return the JSON it prints last on stdout.

    A child that fails raises :class:`SystemFailed` with the end of its stderr.
    """
    command = [sys.executable, "-m", module, *args]
    try:
        done = subprocess.run(
            command, env=dict(env), capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise SystemFailed(f"{' '.join(command)} did not finish within {timeout} s") from exc
    if done.returncode != 0:
        raise SystemFailed(
            f"{' '.join(command)} exited with {done.returncode}:\n{tail(done.stderr)}"
        )
    lines = done.stdout.strip().splitlines()
    if not lines:
        raise SystemFailed(f"{' '.join(command)} printed nothing:\n{tail(done.stderr)}")
    return json.loads(lines[-1])


def time_process(
    argv: t.Sequence[str], env: t.Mapping[str, str], cwd: str | Path, timeout: float = 300
) -> float:
    """Seconds a whole process takes, from start to exit; a failing process raises."""
    start = time.perf_counter()
    done = subprocess.run(
        list(argv),
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemFailed(f"{' '.join(argv)} exited with {done.returncode}:\n{tail(done.stderr)}")
    return elapsed


def tail(text: str, lines: int = 25) -> str:
    """The last ``lines`` lines of ``text``."""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def emit(data: t.Any) -> None:
    """Print a child's result as one line of JSON (read by :func:`run_child`)."""
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()
