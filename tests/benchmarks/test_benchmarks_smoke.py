"""Every benchmark runs once in the suite, in its smoke mode, so that none rots unseen.

``python benchmarks/bench_NAME.py --smoke`` must use tiny sizes, check no target and
finish, printing its ratios (at least one line with the word "ratio"). This test finds
every ``benchmarks/bench_*.py``, so a new benchmark is smoked without touching it; one
without ``--smoke`` fails with a message that says what to add.

A benchmark that needs a component the suite builds once names the session fixtures in a
module-level ``SMOKE_FIXTURES = ["rarehub_image"]`` (read with ``ast``, not imported); the
test requests them before running the smoke (e.g. the image is then built and cached, and
the smoke reuses it). Benchmarks that start their own Slurm or hub do so on free ports.

The smokes run three at a time (the long ones wait on Slurm, a hub or a browser):
the first test starts them all, each test then checks its own. Targets are not checked
here; they are measured by running the benchmarks by hand (see each docstring).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from rarehub_image import rarehub_image  # noqa: F401  (a session fixture, see SMOKE_FIXTURES)

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = sorted((REPO / "benchmarks").glob("bench_*.py"))
SMOKE_TIMEOUT_S = 300  # a sanity bound on 2 busy cores, not a target
PARALLEL = 3  # the server-starting smokes mostly wait: three lanes on two cores
#: The exit status by which a benchmark says a component it needs is missing (automake's
#: "skipped"): the test skips, which under CI=true is a failure.
MISSING_COMPONENT = 77


def smoke_fixtures(path: Path) -> list[str]:
    """The benchmark's ``SMOKE_FIXTURES`` (a literal list of fixture names), or []."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "SMOKE_FIXTURES" for t in node.targets
        ):
            return list(ast.literal_eval(node.value))
    return []


def starts_servers(path: Path) -> bool:
    text = path.read_text()
    return any(
        w in text for w in ("start_slurm_cluster", "multihost", "start_hub", "sync_playwright")
    )


def has_smoke_option(path: Path) -> bool:
    """Its own ``--smoke``, or the one ``_timing.parse_args`` adds (read, not run: importing
    every benchmark would cost seconds each)."""
    text = path.read_text()
    return '"--smoke"' in text or ("from _timing import" in text and "parse_args(" in text)


def run_smoke(path: Path) -> tuple[subprocess.CompletedProcess, float]:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="default")
    t0 = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(path), "--smoke"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=SMOKE_TIMEOUT_S,
        check=False,
    )
    return done, time.monotonic() - t0


class Smokes:
    """Starts smokes in a small pool and hands each test its result."""

    def __init__(self):
        self.pool = ThreadPoolExecutor(PARALLEL, thread_name_prefix="bench-smoke")
        self.futures: dict[Path, Future] = {}

    def start(self, path: Path) -> None:
        if path not in self.futures:
            self.futures[path] = self.pool.submit(run_smoke, path)

    def result(self, path: Path):
        self.start(path)
        return self.futures[path].result()


@pytest.fixture(scope="session")
def smokes():
    runner = Smokes()
    # those without session fixtures start at once; those that start servers (Slurm, a
    # hub, a browser: the long ones, mostly waiting) first, so that the short ones fill in
    ready = [b for b in BENCHMARKS if has_smoke_option(b) and not smoke_fixtures(b)]
    for path in sorted(ready, key=lambda b: not starts_servers(b)):
        runner.start(path)
    yield runner
    runner.pool.shutdown(wait=True, cancel_futures=True)


def test_there_are_benchmarks():
    assert len(BENCHMARKS) >= 10, BENCHMARKS


@pytest.mark.parametrize("path", BENCHMARKS, ids=[b.name for b in BENCHMARKS])
def test_benchmark_smoke_runs_and_prints_its_ratios(path, smokes, request):
    rel = path.relative_to(REPO)
    if not has_smoke_option(path):
        pytest.fail(
            f"{rel} has no --smoke option: add one (tiny sizes, no targets; it must finish"
            f" and print its ratios) so that the suite runs it (see {Path(__file__).name})"
        )
    for name in smoke_fixtures(path):
        request.getfixturevalue(name)
    done, seconds = smokes.result(path)
    print(f"{rel} --smoke: {seconds:.1f} s\n{done.stdout}")
    if done.returncode == MISSING_COMPONENT:
        pytest.skip(f"{rel}: a component is missing: {done.stderr.strip()[-500:]}")
    assert done.returncode == 0, (
        f"{rel} --smoke exited with {done.returncode}\n"
        f"stdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}"
    )
    ratio_lines = [line for line in done.stdout.splitlines() if "ratio" in line.lower()]
    assert ratio_lines, f"{rel} --smoke printed no ratio:\n{done.stdout[-3000:]}"
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
