"""COHERENT's CsI[Na] 2017 release read into histograms, and binned text files that are not
what they claim to be."""

from __future__ import annotations

import hashlib
from pathlib import Path

import hist
import numpy as np
import pytest

from analysis_lib.io import (
    COHERENT_CSI_2017,
    BinnedTextError,
    read_binned_text,
    read_coherent_csi_2017,
)

SHARED = Path("/work/shared/real-data/coherent-csi-2017")


def test_the_packaged_release_has_the_totals_and_grid_of_the_release_note():
    r = read_coherent_csi_2017()
    totals = {
        "coincidence_on": 1207,
        "anticoincidence_on": 1032,
        "coincidence_off": 507,
        "anticoincidence_off": 507,
    }
    for name, total in totals.items():
        h = getattr(r, name)
        assert isinstance(h, hist.Hist)
        assert h.sum() == total, name
        assert h.shape == (25, 24)
        pe, t = h.axes
        assert (pe.name, pe.metadata["unit"], t.name, t.metadata["unit"]) == ("pe", "PE", "t", "µs")
        np.testing.assert_allclose(pe.centers, np.arange(1, 50, 2))  # 2-PE bins, 1 … 49
        np.testing.assert_allclose(t.edges, np.arange(0, 12.01, 0.5))  # 0.5 µs, 0 … 12 µs
    for name in ("prompt_neutrinos", "delayed_neutrinos", "prompt_neutrons"):
        pdf = getattr(r, name)
        assert pdf.values().sum() == pytest.approx(1.0)
        np.testing.assert_allclose(pdf.axes[0].edges, r.coincidence_on.axes[1].edges)
    # physics the release encodes: prompt neutrinos peak in the 0.5–1 µs bin (the POT pulse),
    # delayed ones (muon decay, τ = 2.2 µs) have most of their probability later
    assert np.argmax(r.prompt_neutrinos.values()) == 1
    late = r.coincidence_on.axes[1].centers > 1.5
    assert r.delayed_neutrinos.values()[late].sum() > 0.6 > r.prompt_neutrinos.values()[late].sum()


def test_one_row_per_bin_lands_in_its_bin():
    r = read_coherent_csi_2017()
    rows = np.loadtxt(COHERENT_CSI_2017 / "data_coincidence_beamOn.txt", delimiter=",")
    h = r.coincidence_on
    for pe, t, n in rows[[0, 37, 599]]:
        assert h[hist.loc(pe), hist.loc(t)] == n


@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared real-data folder is not here")
def test_the_packaged_copy_is_the_release_unchanged():
    for f in SHARED.iterdir():
        copy = COHERENT_CSI_2017 / f.name
        assert hashlib.sha256(copy.read_bytes()).digest() == hashlib.sha256(f.read_bytes()).digest()
    # the licence and the attribution travel with the files
    assert "MIT License" in (COHERENT_CSI_2017 / "LICENSE-pyCEvNS").read_text()
    assert "10.5281/zenodo.1228631" in (COHERENT_CSI_2017 / "README.md").read_text()


AXES = [("x", "x", "cm"), ("y", "y", "s")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1, 1, 3\n1, 3, 4\n3, 1\n3, 3, 1\n", r"f.txt:3: 2 fields in '3, 1'; expected 3"),
        ("1, 1, 3\n1, 3, four\n3, 1, 1\n3, 3, 1\n", r"f.txt:2: not a number in '1, 3, four'"),
        ("1, 1, 3\n1, 3, 4\n3, 1, 1\n", r"the bin at x=3, y=3 appears 0 times"),
        ("1, 1, 3\n1, 1, 4\n3, 1, 1\n3, 3, 1\n1, 3, 1\n", r"x=1, y=1 appears 2 times"),
        ("1, 1, 3\n1, 3, 4\n4, 1, 1\n4, 3, 1\n7, 1, 1\n7, 3, 1\n9, 1, 0\n9, 3, 0\n", "not regular"),
        ("1, 1, nan\n1, 3, 4\n3, 1, 1\n3, 3, 1\n", "non-finite"),
        ("# only a comment\n", "no data rows"),
    ],
)
def test_bad_binned_text_is_refused_naming_file_line_and_value(tmp_path, text, message):
    f = tmp_path / "f.txt"
    f.write_text(text)
    with pytest.raises(BinnedTextError, match=message):
        read_binned_text(f, axes=AXES)


def test_a_release_folder_with_a_mismatched_pdf_is_refused(tmp_path):
    for f in COHERENT_CSI_2017.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    pdf = tmp_path / "arrivalTimePDF_promptNeutrons.txt"
    pdf.write_text(pdf.read_text().replace("0.75, 0.868", "0.75, 0.968"))
    with pytest.raises(BinnedTextError, match=r"promptNeutrons\.txt: a PDF .* summing to 1"):
        read_coherent_csi_2017(tmp_path)
    with pytest.raises(BinnedTextError, match="cannot read"):
        read_coherent_csi_2017(tmp_path / "missing")
