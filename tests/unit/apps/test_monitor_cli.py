"""``rarehub monitor`` parses its options and refuses a missing catalog by name."""

from __future__ import annotations

import pytest

from analysis_lib.cli import build_parser, main


def test_monitor_options():
    args = build_parser().parse_args(
        ["monitor", "storage", "--catalog", "c.sqlite", "--prefix", "/services/storage"]
    )
    assert args.app == "storage"
    assert args.address == "127.0.0.1"
    assert args.prefix == "/services/storage"


def test_missing_catalog_is_named(tmp_path):
    with pytest.raises(SystemExit, match=r"no catalog database at .*nope\.sqlite"):
        main(["monitor", "dq", "--catalog", str(tmp_path / "nope.sqlite")])


def test_bad_thresholds_are_refused(sample_catalog):
    with pytest.raises(SystemExit, match="warn_used_fraction"):
        main(["monitor", "storage", "--catalog", str(sample_catalog), "--warn-used", "0.99"])


def test_missing_auth_module_is_named(sample_catalog, tmp_path):
    with pytest.raises(SystemExit, match=r"no auth module at .*auth\.py"):
        main(
            [
                "monitor",
                "dq",
                "--catalog",
                str(sample_catalog),
                "--auth-module",
                f"{tmp_path}/auth.py",
            ]
        )
