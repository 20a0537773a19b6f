import subprocess
import sys

import pandas as pd

from analysis_lib import __version__
from analysis_lib.cli import main


def test_version_matches_package():
    out = subprocess.run(
        [sys.executable, "-m", "analysis_lib", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0
    assert out.stdout.strip() == f"rarehub {__version__}"


def test_demo_writes_events(tmp_path, capsys):
    main(["demo", "--size", "tiny", "--out", str(tmp_path)])
    events = pd.read_parquet(tmp_path / "coherent" / "csi_events.parquet")
    assert {"energy_PE", "time_us", "beam_on"} <= set(events.columns)
    assert not list(tmp_path.rglob("*.tmp")), "no temporary file may be left behind"
    assert "wrote" in capsys.readouterr().out
