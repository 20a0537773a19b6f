"""Benchmark: a new student's login → first plot in the demo hub, against the 60 s target.

    /opt/rarehub/venv/bin/python benchmarks/bench_tutorial_login_to_plot.py [--repeats 3]

Starts ``./dev start`` on free ports with a fresh state folder (as README says) and, in
Debian's headless Chromium with every request off 127.0.0.1 aborted, logs in through the
hub's form, opens tutorials/01-first-plot.ipynb, runs all cells and waits for the plot
(tests/support/hub_tutorial.py, the flow tests/browser/test_tutorial_in_hub.py runs). Each
repeat is a fresh hub and a new user: spawn, a cold kernel and the first imports count.
Reports each time as a ratio to the target, with the time of each step.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests" / "support")]

from _timing import parse_args  # noqa: E402
from hub_tutorial import login_to_plot, start_hub, stop_hub  # noqa: E402

from rarehub_testing import CHROMIUM_ARGS, block_off_host  # noqa: E402

TARGET_S = 60.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parse_args(parser, smoke={"repeats": 1})
    from playwright.sync_api import sync_playwright

    times = []
    for i in range(args.repeats):
        with tempfile.TemporaryDirectory(prefix="bench-tutorial-") as tmp:
            state = Path(tmp) / "state"
            state.mkdir()
            hub = start_hub(state, Path(tmp) / "hub.log")
            try:
                with sync_playwright() as pw:
                    context = pw.chromium.launch_persistent_context(
                        str(Path(tmp) / "chromium-profile"),
                        executable_path="/usr/bin/chromium",
                        headless=True,
                        args=CHROMIUM_ARGS,
                    )
                    try:
                        page = context.new_page()
                        blocked = block_off_host(page)
                        run = login_to_plot(page, hub)
                    finally:
                        context.close()
            finally:
                stop_hub(hub)
        times.append(run.seconds)
        verdict = "" if args.smoke else " (meets)" if run.seconds <= TARGET_S else " (MISSES)"
        print(
            f"run {i + 1}: login -> plot {run.seconds:.1f} s = {run.seconds / TARGET_S:.2f} x "
            f"the {TARGET_S:.0f} s target{verdict}; off-host requests: {len(blocked)}"
        )
        print("   steps (s after login):", ", ".join(f"{t} {what}" for t, what in run.steps))
    print(
        f"login -> plot over {len(times)} runs: min {min(times):.1f} s, "
        f"max {max(times):.1f} s, ratio max/target {max(times) / TARGET_S:.2f}"
    )


if __name__ == "__main__":
    main()
