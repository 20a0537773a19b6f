"""The CI guard: under ``CI=true`` a test that does not run is a failure, unless the code
says it is expected.

A test on a laptop may skip when a component it needs is missing (Slurm, podman,
Chromium …), with a reason. Under ``CI=true`` (which ``.ci/run`` sets) every way of not
running becomes a failure that names the reason:

- a skip in setup or call (``pytest.skip``, ``@pytest.mark.skip``/``skipif``, a fixture
  that skips, ``pytest.importorskip`` inside a test or fixture);
- a skip at collection (a module-level ``pytest.importorskip`` or
  ``pytest.skip(allow_module_level=True)``): the module is reported as one failing test,
  ``<module>::skipped-at-collection``, and the rest of the suite still runs;
- an xfail, whether marked (``@pytest.mark.xfail``) or imperative (``pytest.xfail(…)``).

A test whose skip or xfail is expected everywhere, CI included, says so in the code::

    @pytest.mark.expected_in_ci("the reason, e.g. a known upstream bug #123")
    @pytest.mark.xfail(reason="…", strict=True)
    def test_something(): ...

The reason is required and is shown in the summary. A collection-time skip cannot be
declared expected (the module is never imported far enough to read a marker): skip in a
fixture or a test instead.

Loaded by ``tests/conftest.py``; tested by ``tests/unit/test_ci_guard.py``.
"""

from __future__ import annotations

import os

import pytest

MARKER = "expected_in_ci"
MARKER_HELP = (
    f"{MARKER}(reason): this test's skip or xfail is expected, also under CI=true (a reason is"
    " required); without it, under CI=true every skip and every xfail is a failure"
)
COLLECTION_SKIP_ITEM = "skipped-at-collection"


def in_ci() -> bool:
    """Whether the suite runs as CI (``CI`` is 1, true or yes); read at each use."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest_configure(config):
    config.addinivalue_line("markers", MARKER_HELP)


def _declared_reason(item) -> str | None:
    """The reason of the item's ``expected_in_ci`` marker; a marker without one is an error."""
    marker = item.get_closest_marker(MARKER)
    if marker is None:
        return None
    reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")
    if not isinstance(reason, str) or not reason.strip():
        raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.{MARKER} needs a reason")
    return reason


def _skip_reason(longrepr) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not in_ci() or _declared_reason(item) is not None:
        return
    if report.skipped and hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = (
            f"xfail under CI=true, which counts as a failure: {report.wasxfail or '(no reason)'}"
            f" — fix the test, or declare it with @pytest.mark.{MARKER}(reason)"
        )
        del report.wasxfail
    elif report.skipped:
        report.outcome = "failed"
        report.longrepr = (
            f"skipped under CI=true, which counts as a failure: {_skip_reason(report.longrepr)}"
        )


class SkippedAtCollection(pytest.Item):
    """Stands for a module that skipped while it was collected; fails when run (CI only)."""

    def __init__(self, *, reason: str, **kwargs):
        super().__init__(**kwargs)
        self.reason = reason

    def runtest(self):
        raise SkippedAtCollectionError(self.reason)

    def repr_failure(self, excinfo):
        if excinfo.errisinstance(SkippedAtCollectionError):
            return (
                f"skipped at collection under CI=true, which counts as a failure: {self.reason}"
                " (the module's tests never ran)"
            )
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, f"{self.parent.nodeid} skipped at collection"


class SkippedAtCollectionError(Exception):
    pass


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    if not (in_ci() and report.skipped):
        return
    item = SkippedAtCollection.from_parent(
        collector, name=COLLECTION_SKIP_ITEM, reason=_skip_reason(report.longrepr)
    )
    outcome.force_result(
        pytest.CollectReport(collector.nodeid, "passed", None, [item], sections=report.sections)
    )
