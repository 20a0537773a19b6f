"""Headless Chromium (Debian's, driven by Playwright) and Panel servers on 127.0.0.1.

Never ``playwright install``: the browser is /usr/bin/chromium from tests/debian-packages.txt.
Every request the page makes to anything but the app's own 127.0.0.1 server is aborted, so
no test traffic leaves the machine.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from analysis_lib.apps.sample import make_sample_catalog
from rarehub_testing import (
    CHROMIUM_ARGS,
    block_off_host,
    free_port_block,
    require_executable,
    wait_for,
)

PAGE_TIMEOUT_MS = 60_000  # 2 shared cores: a cold Bokeh page takes ~10 s here


# Module scope, not session: Playwright's sync API marks an asyncio loop as running in the
# main thread while it is alive, which would break every later test that calls asyncio.run().
@pytest.fixture(scope="module")
def browser_context(tmp_path_factory):
    chromium = require_executable("chromium", "the browser tests drive Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),  # fresh user-data dir
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_ARGS,
        )
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser_context):
    page = browser_context.new_page()
    page.blocked_urls = block_off_host(page)
    yield page
    page.close()


@pytest.fixture(scope="session")
def sample_catalog_master(tmp_path_factory) -> Path:
    return make_sample_catalog(tmp_path_factory.mktemp("browser-sample"), n_runs=3, n_events=30)


@pytest.fixture
def sample_catalog(sample_catalog_master, tmp_path) -> Path:
    import shutil

    shutil.copytree(sample_catalog_master.parent, tmp_path / "data")
    return tmp_path / "data" / sample_catalog_master.name


class Server:
    def __init__(self, proc: subprocess.Popen, url: str, log: Path):
        self.proc, self.url, self.log = proc, url, log


def _start(cmd: list[str], port: int, log: Path, ready_path: str) -> Server:
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=os.environ.copy()
        )

    def ready():
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}): {log.read_text()[-2000:]}")
        return requests.get(f"http://127.0.0.1:{port}{ready_path}", timeout=5).status_code == 200

    try:
        wait_for(ready, timeout=90, what=f"{' '.join(cmd[:4])} on 127.0.0.1:{port}")
    except BaseException:
        _stop(proc)
        raise
    return Server(proc, f"http://127.0.0.1:{port}", log)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)


@pytest.fixture
def panel_serve(tmp_path) -> Iterator:
    """``panel_serve(module, catalog)``: serve an app script with ``panel serve``."""
    started: list[subprocess.Popen] = []

    def serve(module, catalog: Path) -> Server:
        port = free_port_block(1)
        script = Path(module.__file__)
        cmd = [
            sys.executable,
            "-m",
            "panel",
            "serve",
            str(script),
            "--address",
            "127.0.0.1",
            "--port",
            str(port),
            f"--allow-websocket-origin=127.0.0.1:{port}",
            "--liveness",
            "--args",
            "--catalog",
            str(catalog),
        ]
        server = _start(cmd, port, tmp_path / f"{script.stem}.log", "/liveness")
        started.append(server.proc)
        server.url += f"/{script.stem}"
        return server

    yield serve
    for proc in started:
        _stop(proc)


@pytest.fixture
def rarehub_monitor(tmp_path) -> Iterator:
    """``rarehub_monitor(app, catalog, *extra)``: serve an app with ``rarehub monitor``."""
    started: list[subprocess.Popen] = []

    def serve(app: str, catalog: Path, *extra: str) -> Server:
        port = free_port_block(1)
        cmd = [sys.executable, "-m", "analysis_lib", "monitor", app, "--catalog", str(catalog)]
        cmd += ["--port", str(port), *extra]
        prefix = extra[extra.index("--prefix") + 1] if "--prefix" in extra else ""
        # Ready when the app page answers; behind a login, when the login page does.
        ready = f"{prefix}/login" if "--auth-module" in extra else f"{prefix}/"
        server = _start(cmd, port, tmp_path / f"monitor-{app}.log", ready)
        started.append(server.proc)
        server.url += prefix
        return server

    yield serve
    for proc in started:
        _stop(proc)


SOURCES_JS = """(column) => {
    const out = [];
    for (const m of Bokeh.documents[0].all_models) {
        if (m.type === 'ColumnDataSource' && column in m.data) out.push(Array.from(m.data[column]));
    }
    return out;
}"""


@pytest.fixture
def bokeh_columns():
    """``bokeh_columns(page, column)``: that column of every ColumnDataSource on the page."""

    def columns(page, column: str) -> list[list]:
        return page.evaluate(SOURCES_JS, column)

    return columns
