"""The tutorials, executed headless on the tiny demo data inside the built image, and the
physics they find.

Each notebook is the image's own copy (``$RAREHUB_TUTORIALS``), executed by the image's
``python -m analysis_lib.release.execute_notebook`` (what ``rarehub release verify
--in-image`` runs) in a container locked down as on a cluster: an arbitrary UID, a read-only
root, no network at all (``analysis_lib.release.verify.podman_prefix``). Bound at their host
paths: the demo data, generated once per session; ``RAREHUB_RESULTS``, a processing store
shared by all notebooks (as a user's ``~/results`` would be, so later tutorials reuse what
earlier ones processed); and the test's own folder, where the kernel works.

Tutorials teach; they write nothing for the tests. A test reads what the executed notebook
holds: :func:`run_notebook` appends one cell of the test's own (a *probe*, tagged
``rarehub-test-probe``) that evaluates the test's expressions in the kernel after the last
tutorial cell and displays them as ``application/json``; the test reads that output back
from the executed notebook. To check a new tutorial::

    nb, found = run_notebook("08-name", rarehub_image, demo_data, results_store, tmp_path,
                             probe={"n_events": "len(events)", "mu": "fit.mu"})
    assert_clean_and_plotted(nb)          # no error, no warning, ends with an inline plot
    assert found["n_events"] == …         # against the demo's truth, computed here

Tutorial 06's Slurm branch runs on the host instead, against the session's real one-node
Slurm: it needs the Slurm client and the munge socket, which the image does not carry (on a
cluster the hub's job script provides them; see hub/).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbclient import NotebookClient
from rarehub_image import ARBITRARY_UID, IMAGE_TUTORIALS, podman
from traitlets.config import Config

from analysis_lib.release.verify import podman_prefix

TUTORIALS = Path(__file__).resolve().parents[2] / "tutorials"
CELL_TIMEOUT_S = 180
KERNEL_STARTUP_S = 120  # a kernel start on 2 busy cores
HOLOVIEWS_MIME = "application/vnd.holoviews_exec.v0+json"
# The URL of any Bokeh ImportedStyleSheet in a plot's output (none: all styles inline).
IMPORTED_STYLESHEET = re.compile(r'ImportedStyleSheet\\?"[^}]*?\\?"url\\?":\\?"([^"\\]+)')


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory) -> Path:
    """The tiny demo data of both experiments, generated once (about 3 s, 40 MB)."""
    from analysis_lib.demo import generate_demo

    out = tmp_path_factory.mktemp("rarehub-data")
    generate_demo(out, size="tiny", verbose=False)
    # usable by the container's arbitrary UID: SQLite adds its -wal and -shm files beside
    # the catalog; everything else is only read
    for p in [out, *out.rglob("*")]:
        p.chmod(0o777 if p.is_dir() else 0o666 if p.name.startswith("catalog.") else 0o644)
    return out


@pytest.fixture(scope="session")
def results_store(tmp_path_factory) -> Path:
    store = tmp_path_factory.mktemp("rarehub-results")
    store.chmod(0o777)  # written by the container's arbitrary UID
    return store


def _check_stored_clean(name: str) -> None:
    nb = nbformat.read(TUTORIALS / f"{name}.ipynb", as_version=4)
    # stored without outputs: what users receive is clean
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


PROBE_TAG = "rarehub-test-probe"
PROBE_MIME = "application/json"


def probe_cell_source(probe: dict[str, str]) -> str:
    """The probe cell: each of ``probe``'s expressions, evaluated in the kernel's namespace,
    displayed as one JSON object (numpy, pandas and paths made plain)."""
    items = "".join(f"    {name!r}: ({expr}),\n" for name, expr in probe.items())
    return (
        "import json as _probe_json\n"
        "from IPython.display import display as _probe_display\n"
        "def _probe_plain(v):\n"
        "    if hasattr(v, 'tolist'):\n"
        "        return v.tolist()\n"
        "    if hasattr(v, 'item'):\n"
        "        return v.item()\n"
        "    if isinstance(v, (set, frozenset)):\n"
        "        return sorted(v)\n"
        "    return str(v)\n"
        "_probe = {\n" + items + "}\n"
        "_probe_display({'" + PROBE_MIME + "': _probe_json.loads(_probe_json.dumps("
        "_probe, default=_probe_plain))}, raw=True)\n"
    )


def with_probe(nb, probe: dict[str, str]):
    """``nb`` with the probe cell appended (the tutorial's own cells unchanged)."""
    nb = nbformat.from_dict(nb)
    cell = nbformat.v4.new_code_cell(probe_cell_source(probe), metadata={"tags": [PROBE_TAG]})
    nb.cells.append(cell)
    return nb


def probed(nb) -> dict:
    """What the probe cell of an executed notebook displayed."""
    cells = [c for c in nb.cells if PROBE_TAG in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, "the notebook has no probe cell (see with_probe)"
    for out in cells[0].get("outputs", []):
        if out.get("output_type") == "error":
            raise AssertionError(f"the probe failed: {out['ename']}: {out['evalue']}")
        if PROBE_MIME in out.get("data", {}):
            return dict(out["data"][PROBE_MIME])
    raise AssertionError(f"the probe cell displayed no {PROBE_MIME}: {cells[0].get('outputs')}")


def tutorial_cells(nb) -> list:
    """The executed notebook's code cells, without the test's probe."""
    return [
        c
        for c in nb.cells
        if c.cell_type == "code" and PROBE_TAG not in c.get("metadata", {}).get("tags", [])
    ]


# Run inside the image: read the image's copy of the tutorial, append the probe, execute it
# with the image's executor. Arguments: tutorial, probe source, probe tag, probe notebook,
# executed notebook, and the executor's options.
IN_IMAGE_SCRIPT = """\
import sys
import nbformat
from analysis_lib.release.execute_notebook import main
src, probe, tag, probed, out, *options = sys.argv[1:]
nb = nbformat.read(src, as_version=4)
nb.cells.append(nbformat.v4.new_code_cell(probe, metadata={"tags": [tag]}))
nbformat.write(nb, probed)
main([probed, out, *options])
"""


def run_notebook(
    name: str,
    image: str,
    demo_data: Path,
    results_store: Path,
    workdir: Path,
    *,
    probe: dict[str, str],
    env: dict[str, str] | None = None,
):
    """Execute the image's ``<name>.ipynb`` in ``workdir``, inside ``image``, with ``probe``.

    Returns (executed notebook, {name: value of each probe expression after the last cell}).
    """
    _check_stored_clean(name)
    workdir.chmod(0o777)
    env = {
        "RAREHUB_DATA": str(demo_data),
        "RAREHUB_RESULTS": str(results_store),
        "PYTHONWARNINGS": "default",
        **(env or {}),
    }
    # The lock-down of `rarehub release verify --in-image`, without its bundle volume: the
    # store and the working folder are bound writable at their host paths, the data
    # read-only, as a shared data volume on a cluster is (the tutorials open the catalog
    # with readonly=True).
    prefix = podman_prefix(image, user=f"{ARBITRARY_UID}:{ARBITRARY_UID}", network="none")
    options = [a.format(out=results_store) for a in prefix[2:-1] if "{bundle}" not in a]
    options += [f"--volume={demo_data}:{demo_data}:ro", f"--volume={workdir}:{workdir}"]
    options += [f"--workdir={workdir}", *(f"--env={k}={v}" for k, v in env.items())]
    executed = workdir / f"{name}.ipynb"
    podman(
        "run",
        *options,
        image,
        "python",
        "-c",
        IN_IMAGE_SCRIPT,
        f"{IMAGE_TUTORIALS}/{name}.ipynb",
        probe_cell_source(probe),
        PROBE_TAG,
        str(workdir / f".{name}.probe.ipynb"),
        str(executed),
        f"--cwd={workdir}",
        f"--timeout={CELL_TIMEOUT_S}",
        f"--startup-timeout={KERNEL_STARTUP_S}",
        timeout=900,
    )
    nb = nbformat.read(executed, as_version=4)
    return nb, probed(nb)


def run_notebook_here(
    name: str, demo_data: Path, results_store: Path, workdir: Path, *, probe: dict[str, str]
):
    """Execute ``tutorials/<name>.ipynb`` with ``probe`` in a kernel of this environment
    (nbclient); returns what :func:`run_notebook` returns."""
    _check_stored_clean(name)
    nb = with_probe(nbformat.read(TUTORIALS / f"{name}.ipynb", as_version=4), probe)
    env = {
        **os.environ,
        "RAREHUB_DATA": str(demo_data),
        "RAREHUB_RESULTS": str(results_store),
        "PYTHONWARNINGS": "default",
    }
    # IPC sockets in the working directory: no TCP port, nothing on the network at all
    config = Config({"KernelManager": {"transport": "ipc", "ip": str(workdir / "kernel")}})
    client = NotebookClient(
        nb,
        config=config,
        kernel_name="python3",
        timeout=CELL_TIMEOUT_S,
        startup_timeout=KERNEL_STARTUP_S,
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute(env=env, cwd=str(workdir))
    return nb, probed(nb)


def outputs_of(nb) -> list[dict]:
    """The outputs of the tutorial's own cells."""
    return [o for c in tutorial_cells(nb) for o in c.get("outputs", [])]


def assert_clean_and_plotted(nb) -> None:
    """No error and no warning in any cell; the last code cell displays a HoloViews plot."""
    outs = outputs_of(nb)
    assert not [o for o in outs if o["output_type"] == "error"]
    stderr = "".join(
        "".join(o["text"]) for o in outs if o["output_type"] == "stream" and o["name"] == "stderr"
    )
    assert "Warning" not in stderr, stderr
    last = tutorial_cells(nb)[-1]
    mimes = {m for o in last["outputs"] for m in o.get("data", {})}
    assert HOLOVIEWS_MIME in mimes, mimes
    # … and names no stylesheet to fetch: a hub without internet shows it styled, at once
    html = json.dumps([o.get("data", {}).get("text/html", "") for o in outs])
    assert IMPORTED_STYLESHEET.findall(html) == []


def test_first_plot_histograms_every_beam_off_event_of_the_catalogued_run(
    rarehub_image, demo_data, results_store, tmp_path
):
    probe = {
        "n_events": "len(events)",
        "n_beam_off": "len(beam_off)",
        "n_in_range": "int(((energy_keVee >= range_keV[0])"
        " & (energy_keVee <= range_keV[1])).sum())",
        # the plotted rate × bin width × exposure, read back from the figure
        "n_in_histogram": "float((spectrum.get(0).dimension_values('rate')"
        " * np.diff(spectrum.get(0).edges)).sum() * exposure_kg_day)",
        "exposure_kg_day": "exposure_kg_day",
    }
    nb, res = run_notebook(
        "01-first-plot", rarehub_image, demo_data, results_store, tmp_path, probe=probe
    )
    assert_clean_and_plotted(nb)
    events = pd.read_parquet(demo_data / "coherent" / "csi_events.parquet")
    assert res["n_events"] == len(events)
    assert res["n_beam_off"] == int((~events["beam_on"]).sum())
    # the plotted rate × bin width × exposure gives back the events in the plotted range
    assert res["n_in_histogram"] == pytest.approx(res["n_in_range"], rel=1e-9)
    assert 0 < res["n_in_range"] <= res["n_beam_off"]
    # 14.57 kg of CsI × one 12 µs beam-off window for each spill the tiny demo's 200 000
    # spill records stand for (the generator's exposure scaling, from the catalog)
    from analysis_lib.catalog import Catalog

    with Catalog.open(demo_data / "catalog.sqlite", create=False) as cat:
        config = cat.datasets().set_index("dataset").loc["csi-demo", "generator_config"]
    assert config["n_records"] == 200_000
    n_spills = config["n_records"] * config["SPILLS_PER_RECORD"]
    assert res["exposure_kg_day"] == pytest.approx(14.57 * n_spills * 12e-6 / 86400, rel=1e-9)


def test_pulses_and_noise_measures_the_baseline_resolution_the_noise_model_predicts(
    rarehub_image, demo_data, results_store, tmp_path
):
    from analysis_lib.demo.ge import GE_PARAMETERS, noise_psd
    from analysis_lib.pulses.optimal_filter import OptimalFilter
    from analysis_lib.pulses.simulate import pulse_template

    probe = {
        "n_samples": "n_samples",
        "fs_Hz": "fs_Hz",
        "sigma_expected_eV": "sigma_eV",
        "sigma_measured_eV": "measured_eV",
        "sigma_measured_err_eV": "error_eV",
        "n_baseline_traces": "len(baseline_keV)",
    }
    nb, res = run_notebook(
        "02-pulses-and-noise", rarehub_image, demo_data, results_store, tmp_path, probe=probe
    )
    assert_clean_and_plotted(nb)
    # truth: the OF resolution of the channel sum for the generator's own noise model
    # (four independent channels → 4× the one-channel PSD), in eV
    n, fs = res["n_samples"], res["fs_Hz"]
    true_psd = 4 * noise_psd(n)
    true_psd[0] = 1.0  # DC: not used under AC coupling, must only be positive
    template = pulse_template(n, fs_Hz=fs, rise_s=20e-6, fall_s=500e-6)
    true_sigma_eV = (
        OptimalFilter(template, true_psd, fs_Hz=fs).sigma / GE_PARAMETERS["gain_ADC_per_keV"] * 1e3
    )
    # the PSD estimated from 64 noise traces predicts the truth to a few per cent
    assert res["sigma_expected_eV"] == pytest.approx(true_sigma_eV, rel=0.1)
    # and pulse-free traces scatter by that much (statistical error of a std of 128 values)
    assert res["n_baseline_traces"] == 128
    pull = (res["sigma_measured_eV"] - true_sigma_eV) / res["sigma_measured_err_eV"]
    assert abs(pull) < 3, pull


def test_calibrate_finds_the_activation_lines_at_their_energies(
    rarehub_image, demo_data, results_store, tmp_path
):
    probe = {
        "checks": "checks",
        "gain_ADC_per_keV": "1 / scale.coefficients[1]",
        "residual_median_keV": "residual_keV.median()",
        "residual_mad_keV": "1.4826 * (residual_keV - residual_keV.median()).abs().median()",
        "mass_kg": "mass_kg",
        "live_days": "live_days",
        "calibration_file": "cal_path",
    }
    nb, res = run_notebook(
        "03-calibrate", rarehub_image, demo_data, results_store, tmp_path, probe=probe
    )
    assert_clean_and_plotted(nb)
    k = res["checks"]["Ge71 K (odd events)"]
    ga = res["checks"]["Ga68 K (all events)"]
    # the 10.37 keV line of events the scale was not fitted to, and the 9.66 keV line not
    # used by the scale at all, sit at their energies within their (3σ) uncertainties …
    assert k["true_keV"] == 10.37
    assert abs(k["fit_keV"] - 10.37) < 3 * k["err_keV"]
    assert abs(ga["fit_keV"] - 9.66) < 3 * ga["err_keV"]
    # … which are small enough to mean something (the line width is ≈ 54 eV)
    assert k["err_keV"] < 0.03
    assert 0.03 < k["resolution_keV"] < 0.09
    # the demo's gain is 40 ADC/keV on the channel sum
    assert res["gain_ADC_per_keV"] == pytest.approx(40.0, rel=0.01)
    # calibrated physics-run energies scatter around the true ones by the resolution
    assert abs(res["residual_median_keV"]) < 0.02
    assert res["residual_mad_keV"] < 0.09
    assert Path(res["calibration_file"]).is_relative_to(results_store)
    # the exposure comes from the catalog: the generator's detector mass (a 1.39 kg
    # SuperCDMS SNOLAB Ge detector) and each run's live time (its duration: no dead time)
    ge_mass_kg, runs = ge_detector_mass_and_runs(demo_data)
    assert res["mass_kg"] == ge_mass_kg == 1.39
    for n in (2, 3):
        duration_s = (runs.loc[n, "end_utc"] - runs.loc[n, "start_utc"]).total_seconds()
        assert res["live_days"][str(n)] * 86400 == pytest.approx(duration_s, abs=1e-5)


def ge_detector_mass_and_runs(demo_data: Path):
    """The Ge demo's detector mass (kg) from the catalog and its runs by run number."""
    from analysis_lib.catalog import Catalog

    with Catalog.open(demo_data / "catalog.sqlite", create=False) as cat:
        config = cat.datasets().set_index("dataset").loc["ge-demo", "generator_config"]
        runs = cat.runs(dataset="ge-demo").set_index("run_number")
    return config["detector_mass_kg"], runs


def standard_model_cevns_recorded(config: dict, pot: float) -> float:
    """SM CEvNS events the CsI demo records for ``pot``: the physics library's rate for the
    catalogued detector, × the probability to land in the 12 µs window and above the
    trigger threshold (computed here independently of the tutorial)."""
    from scipy.stats import norm, poisson

    from analysis_lib.physics.cevns import cevns_events

    pe_per_keVnr = config["QUENCHING"] * config["LIGHT_YIELD_PE_PER_KEVEE"]
    k = np.arange(200)
    above = norm.sf((config["TRIGGER_THRESHOLD_PE"] - k) / config["PE_NOISE_SIGMA"])

    def triggered(t_keVnr):
        return poisson.pmf(k, np.asarray(t_keVnr)[:, None] * pe_per_keVnr) @ above

    # the last 11 µs of the window hold all prompt and all but e^{-11/2.197} of the delayed
    late = np.exp(-(config["WINDOW_US"] - config["PULSE_OFFSET_US"]) / config["TAU_MU_US"])
    in_window = {"numu": 1.0, "numubar": 1 - late, "nue": 1 - late}
    return sum(
        in_window[f]
        * cevns_events(
            config["TARGETS"],
            config["DETECTOR_MASS_KG"],
            pot,
            config["DISTANCE_M"],
            threshold_keV=config["RECOIL_MIN_KEVNR"],
            max_keV=config["RECOIL_MAX_KEVNR"],
            efficiency=triggered,
            nu_per_flavour_per_pot=config["NU_PER_FLAVOUR_PER_POT"],
            flavours=(f,),
            form_factor=config["FORM_FACTOR"] == "helm",
        )
        for f in in_window
    )


def test_beam_cevns_excess_matches_the_injected_signal_and_the_prediction(
    rarehub_image, demo_data, results_store, tmp_path
):
    from analysis_lib.catalog import Catalog

    probe = {
        "n_on": "n_on",
        "n_off": "n_off",
        "excess": "excess",
        "excess_err": "excess_err",
        "injected_after_cuts": "injected",
        "predicted_after_cuts": "expected",
        "pot": "pot_up",
        "mu": "fit.mu",
        "mu_err": "fit.mu_err",
        "significance": "fit.significance",
        "sm_events": "sm",
        "spills_per_record": "cfg['SPILLS_PER_RECORD']",
    }
    nb, res = run_notebook(
        "04-beam-cevns", rarehub_image, demo_data, results_store, tmp_path, probe=probe
    )
    assert_clean_and_plotted(nb)
    events = pd.read_parquet(demo_data / "coherent" / "csi_events.parquet")
    with Catalog.open(demo_data / "catalog.sqlite", create=False) as cat:
        pot_total = cat.runs(dataset="csi-demo")["metadata"].iloc[0]["pot"]
        config = cat.datasets().set_index("dataset").loc["csi-demo", "generator_config"]
    # POT counted in beam-up periods: most of the run, never more than was delivered
    assert 0.9 * pot_total < res["pot"] <= pot_total
    # the demo injects the Standard-Model rate: the CEvNS events it wrote are what the
    # physics library predicts for the catalogued POT, detector and source (3σ Poisson)
    n_cevns = int((events["truth"] == "cevns").sum())
    sm_total = standard_model_cevns_recorded(config, pot_total)
    assert abs(n_cevns - sm_total) < 3 * np.sqrt(sm_total), (n_cevns, sm_total)
    # … which the exposure scaling makes a few hundred events: POT of ~0.5 COHERENT-2017
    assert 100 < sm_total < 2000
    assert res["spills_per_record"] == config["SPILLS_PER_RECORD"]
    # the tutorial's own SM prediction for its beam-up POT agrees with this one
    assert res["sm_events"] == pytest.approx(
        standard_model_cevns_recorded(config, res["pot"]), rel=0.01
    )
    # the injected CEvNS events after cuts are a real part of what the generator made …
    assert 0.5 * n_cevns < res["injected_after_cuts"] < n_cevns
    # … the beam-on − beam-off excess recovers them within its Poisson error (3σ) …
    assert abs(res["excess"] - res["injected_after_cuts"]) < 3 * res["excess_err"]
    # … and is significant: a tutorial that teaches a discovery must show one
    assert res["excess"] > 3 * res["excess_err"]
    assert res["significance"] > 4
    # … and the SM prediction after cuts matches the injection and the fitted excess
    inj, pred = res["injected_after_cuts"], res["predicted_after_cuts"]
    assert abs(inj - pred) < 3 * np.sqrt(pred)
    assert abs(res["excess"] - pred) < 3 * res["excess_err"]
    assert abs(res["mu"] - 1) < 3 * res["mu_err"]
    # steady-state background as in COHERENT's CsI (PRL 129 (2022) 081801: ≈ 4× the CEvNS
    # in the analysis region): beam-off in the cuts is a few times the signal
    assert 2 < res["n_off"] / pred < 8
    # Standard-Model CEvNS in 14.57 kg CsI at 19.3 m: O(1e-20) events per POT without
    # threshold (COHERENT 2017 saw 173 ± 48 expected for 1.76e23 POT above threshold)
    assert 1e-21 < res["sm_events"] / res["pot"] < 3e-20


def test_limit_agrees_with_the_truth_and_the_expected_sensitivity(
    rarehub_image, demo_data, results_store, tmp_path
):
    probe = {
        "masses_GeV": "masses_GeV",
        "sigma_up_cm2": "limit['sigma_up_cm2']",
        "sigma_up_truth_cm2": "limit_truth['sigma_up_cm2']",
        "expected_median_cm2": "expected_median",
        "exposure_kg_day": "exposure.kg_days",
        "resolution_keV": "resolution_keV",
    }
    nb, res = run_notebook(
        "05-limit", rarehub_image, demo_data, results_store, tmp_path, probe=probe
    )
    assert_clean_and_plotted(nb)
    mass = np.array(res["masses_GeV"])
    limit = np.array(res["sigma_up_cm2"])
    truth = np.array(res["sigma_up_truth_cm2"])
    expected = np.array(res["expected_median_cm2"])
    assert np.all(np.isfinite(limit))
    assert np.all(limit > 0)
    # the limit from the measured energies is within a factor 2 of the limit from the true
    # energies of the same events, and within a factor 3 of the median expected limit
    assert np.all((limit / truth > 0.5) & (limit / truth < 2)), limit / truth
    assert np.all((limit / expected > 1 / 3) & (limit / expected < 3)), limit / expected
    # physics: far above threshold kinematics the limit scales with the WIMP mass (number
    # density ρ/m), so from 409 GeV to 1 TeV it grows by ≈ the mass ratio
    hi = mass > 300
    assert limit[hi][-1] / limit[hi][0] == pytest.approx(mass[hi][-1] / mass[hi][0], rel=0.15)
    # the catalogued 1.39 kg × the physics run's live time (36 s of the tiny demo);
    # calibrated resolution ≈ the 54 eV baseline
    ge_mass_kg, runs = ge_detector_mass_and_runs(demo_data)
    live_s = runs.loc[3, "metadata"]["live_time_s"]
    assert 30 < live_s < 45
    assert res["exposure_kg_day"] == pytest.approx(ge_mass_kg * live_s / 86400, rel=1e-9)
    assert 0.03 < res["resolution_keV"] < 0.09


SCALE_OUT_PROBE = {
    "cluster": "kind",
    "scheduler": "scheduler_address",
    "runs": "{k: len(v) for k, v in tables.items()}",
    "paths": "{r.run_id: res if not isinstance(res, Exception) else None"
    " for r, res in zip(runs, results, strict=True)}",
    "failed": "sorted(failed)",
    "all_stored": "all(pipeline.is_stored(t, r) for r in runs for t in targets)",
    "lineage_window_us": "lineage['lineage']['options']['window_us']",
}


def test_scale_out_processes_every_triggered_run_on_a_loopback_dask_cluster(
    rarehub_image, demo_data, results_store, tmp_path
):
    from analysis_lib.catalog import Catalog
    from analysis_lib.steps import DEFAULT_STEPS, Pipeline
    from analysis_lib.steps.runs import run_inputs_from_catalog

    # a local Dask cluster on the container's own 127.0.0.1 (the Slurm branch: below)
    nb, res = run_notebook(
        "06-scale-out",
        rarehub_image,
        demo_data,
        results_store,
        tmp_path,
        probe=SCALE_OUT_PROBE,
        env={"RAREHUB_DASK_CLUSTER": "local"},
    )
    assert_clean_and_plotted(nb)
    assert res["cluster"] == "local"
    assert res["scheduler"].startswith("tcp://127.0.0.1:")
    assert res["failed"] == []
    assert res["all_stored"] is True
    assert res["lineage_window_us"] == 50.0
    with Catalog.open(demo_data / "catalog.sqlite", create=False) as cat:
        runs = cat.runs(dataset="ge-demo")
        expected = {
            f"ge-demo-run{r.run_number:04d}": r.metadata["n_events"]
            for r in runs.itertuples()
            if not r.metadata["continuous"]
        }
        noise_run = run_inputs_from_catalog(cat, dataset="ge-demo", runs=[1])[0]
    assert res["runs"] == expected
    # what the Dask workers stored equals the local runner's result under the same key
    local = Pipeline(DEFAULT_STEPS, {"of_amplitudes": {"window_us": 50.0}}, storage=tmp_path / "l")
    local_path = local.make(noise_run, "of_amplitudes")["of_amplitudes"]
    dask_path = Path(res["paths"][noise_run.run_id]["of_amplitudes"])
    assert dask_path.is_relative_to(results_store)
    assert dask_path.name == local_path.name
    pd.testing.assert_frame_equal(pd.read_parquet(dask_path), pd.read_parquet(local_path))


def test_reproducible_results_trace_a_figure_and_freeze_a_verifiable_release(
    rarehub_image, demo_data, results_store, tmp_path
):
    from analysis_lib.release import verify

    nb, res = run_notebook(
        "07-reproducible-results",
        rarehub_image,
        demo_data,
        results_store,
        tmp_path,
        probe={
            "figure_result_key": "key",
            "stored_key": "stored['key']",
            "result_file": "result_path.name",
            "bundle": "bundle.resolve()",
            "verify_ok": "report.ok",
            "verify_compared": "report.compared_results",
            "tampered_problems": "[[p.kind, p.name] for p in tampered_report.problems]",
            "metadata_problems": "check_citation_cff((bundle / 'CITATION.cff').read_text())"
            " + check_zenodo_json(zenodo) + check_ro_crate(bundle)",
            "crate_parts": "sorted(e.id for e in crate.data_entities)",
        },
    )
    assert_clean_and_plotted(nb)
    # the figure names the stored result whose lineage file is beside it
    assert res["figure_result_key"] == res["stored_key"]
    assert res["result_file"] == f"{res['stored_key']}.parquet"
    # the frozen bundle verified, re-made result included …
    assert res["verify_ok"] is True
    assert res["verify_compared"] == 1
    bundle = Path(res["bundle"])
    assert bundle.is_relative_to(tmp_path)
    assert (bundle / "results" / res["result_file"]).is_file()
    # … verifies here too (checksums only), and the tampered copy was caught by name
    assert verify(bundle, rerun=False, notebooks=False).ok
    assert res["tampered_problems"] == [["checksum", f"results/{res['result_file']}"]]
    # the citation, Zenodo and RO-Crate metadata are valid, and the crate lists the result
    assert res["metadata_problems"] == []
    assert f"results/{res['result_file']}" in res["crate_parts"]


def test_redo_coherent_2017_finds_the_published_observation_from_the_release(
    rarehub_image, demo_data, results_store, tmp_path
):
    """Tutorial 09 redoes COHERENT's CsI 2017 fit from the release packaged in the image.
    Its choices are made from the release note and the paper first; here the results are
    compared with the published ones (Science 357 (2017) 1123): 134 ± 22 CEvNS events,
    6.7σ, 173 ± 48 predicted."""
    nb, res = run_notebook(
        "09-redo-coherent-2017",
        rarehub_image,
        demo_data,
        results_store,
        tmp_path,
        probe={
            "folder": "release.folder",
            "n_on": "on.sum()",
            "sm_events": "sm_events",
            "cevns": "fit.values['cevns']",
            "interval": "[cevns_lo, cevns_hi]",
            "significance": "z",
            "steady_state": "fit.values['steady_state']",
            "pe_data": "[e for e in pe_plot.values()[0] if e.label == 'data'][0]"
            ".dimension_values(1)",
            "pe_stack_top": "pe_plot.values()[0].values()[0].dimension_values(1)",
            "fit_total": "fit.expected().sum(axis=1)",
        },
    )
    assert_clean_and_plotted(nb)
    # the release came from the package inside the image, not from a host path
    assert res["folder"].endswith("analysis_lib/data/coherent-csi-2017")
    assert res["n_on"] == 1207
    # the SM prediction within 15 % of the published 173
    assert abs(res["sm_events"] / 173 - 1) < 0.15, res["sm_events"]
    # the fitted count within 1.5σ of the published 134 ± 22, with an interval of about ± 22
    lo, hi = res["interval"]
    assert 101 <= res["cevns"] <= 167, res["cevns"]
    assert lo < res["cevns"] < hi
    assert 15 < (hi - lo) / 2 < 35
    # an observation (published 6.7σ)
    assert res["significance"] >= 5.0
    assert res["steady_state"] == pytest.approx(1032, abs=2 * np.sqrt(1032))
    # the PE figure shows the data and the stacked fit projected on PE
    assert sum(res["pe_data"]) == 1207
    np.testing.assert_allclose(res["pe_stack_top"], res["fit_total"], rtol=1e-9)


def test_scale_out_runs_its_dask_workers_as_jobs_on_the_real_slurm(
    demo_data, results_store, tmp_path, monkeypatch, slurm_cluster
):
    """Tutorial 06's Slurm branch, on the host rather than in the image.

    The image carries no Slurm client (``sbatch``, ``squeue``, ``scancel``) and no munge, and
    could not reach the session's munge socket and ``SLURM_CONF`` from its locked-down
    container; dask-jobqueue also starts each worker with the notebook's own Python, which
    a Slurm job on this node runs outside any container. So this branch runs in a kernel of
    the test environment (its local branch runs in the image, above).
    """
    # the notebook's Slurm branch, on the one-node loopback Slurm of the test session
    monkeypatch.setenv("RAREHUB_DASK_CLUSTER", "slurm")
    monkeypatch.setenv("RAREHUB_SLURM_PARTITION", slurm_cluster.partition)
    monkeypatch.setenv("RAREHUB_DASK_INTERFACE", "lo")
    monkeypatch.setenv("SLURM_CONF", slurm_cluster.env["SLURM_CONF"])
    store = tmp_path / "store"  # a fresh store: the workers must really make everything
    nb, res = run_notebook_here("06-scale-out", demo_data, store, tmp_path, probe=SCALE_OUT_PROBE)
    assert_clean_and_plotted(nb)
    assert res["cluster"] == "slurm"
    assert res["scheduler"].startswith("tcp://127.0.0.1:")
    assert res["failed"] == []
    assert res["all_stored"] is True
    assert sorted(res["runs"]) == [f"ge-demo-run{n:04d}" for n in (1, 2, 3, 4)]
    assert all(Path(p["of_amplitudes"]).is_relative_to(store) for p in res["paths"].values())


def test_real_supercdms_data_finds_the_run_the_pulse_and_reads_a_new_format(
    rarehub_image, demo_data, results_store, tmp_path
):
    """Tutorial 08 on the real SuperCDMS file (shipped in the image): the catalogued run, the
    noise PSD and an OF amplitude consistent with the pulse, and a .ksy of the user's own."""
    import struct

    probe = {
        "run_number": "int(run.run_number)",
        "run_type": "run.run_type",
        "start": "str(run.start_utc)",
        "fs_Hz": "fs_Hz",
        "triggers": "sorted(events)",
        "random_shape": "random_event.traces.shape",
        "physics_shape": "physics_event.traces.shape",
        "psd_shape": "psd.shape",
        "parseval_ratio": "float((psd[:, 1:].sum(axis=1) * fs_Hz / 1024"
        " / (noise - noise.mean(axis=-1, keepdims=True)).var(axis=-1).mean(axis=0)).mean())",
        "amplitude_ADC": "amplitude_ADC",
        "sigma_ADC": "of_sum.sigma",
        "baseline_spread_ADC": "float(baseline_ADC.std(ddof=1))",
        "sum_peak_ADC": "float(np.convolve(channel_sum, np.ones(16) / 16, 'same').max())",
        "step_amplitude_ADC": "float(step_of.of_amplitude.iloc[0])",
        "step_sigma_ADC": "float(step_of.of_sigma.iloc[0])",
        "step_delay_samples": "float(step_of.of_delay_s.iloc[0] * fs_Hz)",
        "step_options": "sorted(template_options)",
        "onset_samples": "float(meta['phonon_pulse_onset']['on_pulse_sample'])",
        "fit_onset_samples": "float(t0_s * fs_Hz)",
        "step_n_traces": "int(step_psd.n_traces.iloc[0])",
        "step_source": "{k: source[k] for k in ('files', 'format')}",
        "sensor_peaks": "[int(r.samples.max()) for r in parsed.records]",
        "sensor_fast": "sensor.fast_fields",
        "my_root": "type(my_parsed).__name__",
        "my_fast": "my_format.fast_fields",
        "my_from": "str(my_format.directory)",
        "compile_error": "compile_error",
        "workdir": "str(Path.cwd())",
    }
    nb, res = run_notebook(
        "08-real-supercdms-data", rarehub_image, demo_data, results_store, tmp_path, probe=probe
    )
    assert_clean_and_plotted(nb)
    # the run, as the file name and the MIDAS begin-of-run header say
    assert res["run_number"] == int("51230216_125838".replace("_", ""))
    assert res["start"] == "2023-02-16 20:59:13+00:00"
    assert res["run_type"] == "physics"
    assert res["fs_Hz"] == 625e3
    assert res["triggers"] == ["borr", "physics"]
    assert res["random_shape"] == [12, 32768]
    assert res["physics_shape"] == [12, 3008]
    assert res["psd_shape"] == [12, 513]
    # Parseval: Σ J·fs/N without DC is the variance of the mean-subtracted noise pieces
    assert res["parseval_ratio"] == pytest.approx(1.0, rel=1e-6)
    # a real pulse far above the noise; the OF resolution is what pulse-free pieces show
    # (32 pieces: the spread's own error is ~13 %)
    assert res["amplitude_ADC"] / res["sigma_ADC"] > 20
    assert res["baseline_spread_ADC"] == pytest.approx(res["sigma_ADC"], rel=0.4)
    assert res["amplitude_ADC"] == pytest.approx(res["sum_peak_ADC"], rel=0.2)
    # the processing steps on the catalogued run: the same pulse and noise (their template is
    # sampled at whole samples and their PSD drops each piece's mean), the file in the lineage
    assert res["step_n_traces"] == 32
    assert res["step_amplitude_ADC"] == pytest.approx(res["amplitude_ADC"], rel=0.02)
    # no onset passed by hand: the steps' template sits at the onset ingest measured in the
    # file, where the fitted template starts too, so the OF needs no delay
    assert "pretrigger_fraction" not in res["step_options"]
    assert res["onset_samples"] == pytest.approx(res["fit_onset_samples"], abs=4)
    assert abs(res["step_delay_samples"]) <= 1
    assert res["step_sigma_ADC"] == pytest.approx(res["sigma_ADC"], rel=0.05)
    assert res["step_source"] == {"files": ["51230216_125838_F0001.mid.gz"], "format": "midas"}
    # the user's own format: the file the notebook wrote, read here with struct
    data = (tmp_path / "my-sensor.dat").read_bytes()
    n_ch, n_s, _ = struct.unpack_from("<BHf", data, 4)
    pos, peaks = 11, []
    while pos < len(data):
        _, _, note_len = struct.unpack_from("<IBB", data, pos)
        pos += 6 + note_len
        peaks.append(int(np.frombuffer(data, "<i2", n_ch * n_s, pos).max()))
        pos += 2 * n_ch * n_s
    assert res["sensor_peaks"] == peaks
    assert res["sensor_fast"] == ["sensor_demo.samples"]
    # the user's edited copy was compiled in the image, by Node.js and the pinned compiler
    assert res["my_root"] == "MySensor"
    assert res["my_fast"] == ["my_sensor.samples"]
    assert "/formats/compiled/" not in res["my_from"]  # not a shipped parser: compiled here
    assert res["compile_error"].startswith(f"KsyError: {res['workdir']}/broken.ksy:")
    assert "unable to find type 's3'" in res["compile_error"]
