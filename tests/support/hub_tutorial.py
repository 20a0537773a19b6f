"""A new user's first minute, in a real browser: hub login → tutorial 1 → its plot.

Shared by ``tests/browser/test_tutorial_in_hub.py`` (the flow works, offline) and
``benchmarks/bench_tutorial_login_to_plot.py`` (how long it takes; target ≤ 60 s).

The hub is the README's ``./dev start`` on a free block of five ports with a fresh state
folder; the browser fills in the hub's own login form, JupyterLab opens the notebook by
URL and its *Run → Run All Cells* menu runs it. Done means: every code cell has an
execution count, none shows an error, and the last cell's output holds a drawn Bokeh plot.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from rarehub_testing import free_port_block, start_dev_hub, wait_for

USER = "demo"
NOTEBOOK = "tutorials/01-first-plot.ipynb"
#: One step (spawn, a cold kernel importing HoloViews, …) on 2 cores shared with others.
STEP_TIMEOUT_MS = 120_000
#: How often the Run All click is tried (a dialog or an unwired kernel can swallow one).
RUN_ATTEMPTS = 8

# Code cells that have finished: an execution count "[n]:" (not "[ ]:" nor "[*]:").
CELLS_JS = """() => {
    const cells = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell')];
    const done = cells.filter(c => /\\[\\d+\\]/.test(
        (c.querySelector('.jp-InputArea-prompt') || {}).textContent || ''));
    return {total: cells.length, done: done.length};
}"""
ALL_DONE_JS = f"() => {{ const c = ({CELLS_JS})(); return c.total > 0 && c.done === c.total; }}"
STARTED_JS = """() => [...document.querySelectorAll('.jp-Notebook .jp-InputArea-prompt')]
    .some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))"""
# The kernel is connected and idle as the notebook's frontend sees it: the status bar says
# "Python 3 (ipykernel) | Idle". (The toolbar's execution indicator reads "idle" before any
# kernel exists, and a Run All clicked then opens the Select Kernel dialog instead.)
KERNEL_IDLE_JS = """() => [...document.querySelectorAll('.jp-StatusBar-TextItem')]
    .some(e => /\\|\\s*Idle\\s*$/.test(e.textContent || ''))"""
ERRORS_JS = """() => [...document.querySelectorAll(
        '.jp-Notebook .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"],'
        + '.jp-Notebook .jp-RenderedText[data-mime-type="application/vnd.jupyter.error"]')]
    .map(e => e.textContent).filter(t => /Error|Traceback/.test(t))"""
# The last code cell's output holds a drawn Bokeh plot (its canvas, in Bokeh's shadow DOM).
PLOT_JS = """() => {
    const cells = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell')];
    const last = cells[cells.length - 1];
    const hasCanvas = (root) => [...root.querySelectorAll('*')].some(
        e => e.tagName === 'CANVAS' || (e.shadowRoot && hasCanvas(e.shadowRoot)));
    return [...(last ? last.querySelectorAll('.jp-OutputArea-output') : [])].some(hasCanvas);
}"""
# What the notebook looks like: each code cell's prompt and output kinds (for failures).
STATE_JS = """() => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell')].map(c =>
    ((c.querySelector('.jp-InputArea-prompt') || {}).textContent || '?').trim() + ' '
    + [...c.querySelectorAll('.jp-OutputArea-output')]
        .map(o => o.getAttribute('data-mime-type') || o.firstElementChild?.className || 'output')
        .join(','))"""
# Close whatever JupyterLab dialog is open, by its cancel button (for Select Kernel that
# keeps the kernel being started; accepting would replace it and lose what it runs).
DISMISS_DIALOG_JS = """() => {
    const seen = [];
    for (const d of document.querySelectorAll('.jp-Dialog')) {
        const b = d.querySelector('.jp-mod-reject') || d.querySelector('.jp-Dialog-close');
        if (b) { b.click(); seen.push((d.textContent || '').replace(/\\s+/g, ' ').trim()); }
    }
    return seen;
}"""


@dataclass
class Hub:
    proc: subprocess.Popen
    base: str
    state: Path
    log: Path

    @property
    def password(self) -> str:
        return (self.state / "demo-password").read_text().strip()


@dataclass
class Run:
    """One login → plot: the seconds it took and what the browser met on the way."""

    seconds: float
    dialogs: list[str] = field(default_factory=list)
    run_clicks: int = 0
    #: (seconds since the login was submitted, what happened)
    steps: list[tuple[float, str]] = field(default_factory=list)
    t0: float = field(default_factory=time.perf_counter)

    def mark(self, what: str) -> None:
        self.steps.append((round(time.perf_counter() - self.t0, 1), what))


def start_hub(state: Path, log: Path) -> Hub:
    """``./dev start`` on free ports with ``state`` as its state folder; waits for health."""
    port = free_port_block(5)  # public, hub API, proxy API, two monitors
    proc = start_dev_hub(state, port, log)
    hub = Hub(proc, f"http://127.0.0.1:{port}", state, log)

    def healthy():
        if proc.poll() is not None:
            raise RuntimeError(f"./dev start exited ({proc.returncode}): {log.read_text()[-2000:]}")
        return requests.get(f"{hub.base}/hub/health", timeout=2).ok

    try:
        wait_for(healthy, timeout=300, what="hub health")
        wait_for(lambda: (state / "demo-password").is_file(), timeout=30, what="demo password")
    except BaseException:
        stop_hub(hub)
        raise
    return hub


def stop_hub(hub: Hub) -> None:
    """Ctrl-C as a user would (SIGINT to the process group); SIGKILL if it hangs."""
    if hub.proc.poll() is not None:
        return
    os.killpg(hub.proc.pid, signal.SIGINT)
    try:
        hub.proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(hub.proc.pid, signal.SIGKILL)
        hub.proc.wait(timeout=15)


def _run_all_cells(page: Page, run: Run) -> None:
    """Run → Run All Cells until a cell has started ("[*]" or "[n]").

    A JupyterLab dialog can swallow the click (and a click on a closed menu does nothing):
    close dialogs before each try and repeat until the notebook runs.
    """
    for attempt in range(1, RUN_ATTEMPTS + 1):
        closed = page.evaluate(DISMISS_DIALOG_JS)
        for text in closed:
            run.mark(f"dialog closed: {text[:40]}")
        run.dialogs += closed
        if page.evaluate(STARTED_JS):
            return
        try:
            page.keyboard.press("Escape")  # close an open menu, leave edit mode
            page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click(
                timeout=10_000
            )
            page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click(
                timeout=10_000
            )
            run.run_clicks += 1
            run.mark(f"Run All clicked ({attempt})")
            page.wait_for_function(STARTED_JS, timeout=5_000, polling=250)
            return
        except PlaywrightTimeoutError:
            if attempt == RUN_ATTEMPTS:
                raise


def _wait(page: Page, condition_js: str, run: Run, what: str) -> None:
    try:
        page.wait_for_function(condition_js, timeout=STEP_TIMEOUT_MS, polling=500)
    except PlaywrightTimeoutError:
        raise AssertionError(
            f"waited {STEP_TIMEOUT_MS / 1000:.0f} s for {what}; steps so far {run.steps}; "
            f"code cells (prompt, outputs): {page.evaluate(STATE_JS)}"
        ) from None


def login_to_plot(page: Page, hub: Hub, user: str = USER) -> Run:
    """Log in through the form, run tutorial 1, wait for its plot; return the :class:`Run`.

    The clock starts when the login form is submitted and stops when the plot is drawn.
    Raises ``AssertionError`` naming the cell output if any cell fails.
    """
    lab = f"{hub.base}/user/{user}/lab"
    page.goto(f"{hub.base}/hub/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", hub.password)
    run = Run(seconds=float("nan"))
    page.click("[type=submit]")
    # The hub spawns the server and lands in JupyterLab (its default URL, the welcome
    # notebook); from there the student opens tutorial 1, here by its URL. ``reset``: a
    # fresh workspace with only that notebook open (not the welcome one restored beside it,
    # whose kernel the status bar could show).
    page.wait_for_url(re.compile(re.escape(lab)), wait_until="commit", timeout=STEP_TIMEOUT_MS)
    run.mark("server spawned")
    page.goto(f"{lab}/tree/{NOTEBOOK}?reset", wait_until="commit")
    page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=STEP_TIMEOUT_MS)
    run.mark("notebook shown")
    deadline = time.monotonic() + STEP_TIMEOUT_MS / 1000
    while not page.evaluate(KERNEL_IDLE_JS):
        closed = page.evaluate(DISMISS_DIALOG_JS)
        for text in closed:
            run.mark(f"dialog closed: {text[:40]}")
        run.dialogs += closed
        if time.monotonic() > deadline:
            raise TimeoutError(f"the kernel of {NOTEBOOK} was not idle after {STEP_TIMEOUT_MS} ms")
        page.wait_for_timeout(250)
    run.mark("kernel idle")
    _run_all_cells(page, run)
    run.mark("cells started")
    _wait(page, ALL_DONE_JS, run, "every cell to finish")
    run.mark("cells done")
    errors = page.evaluate(ERRORS_JS)
    assert not errors, f"{NOTEBOOK} failed in the browser: {errors[0][:2000]}"
    _wait(page, PLOT_JS, run, "the plot to be drawn")
    run.seconds = time.perf_counter() - run.t0
    run.mark("plot drawn")
    return run
