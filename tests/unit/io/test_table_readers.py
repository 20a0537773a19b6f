"""Readers on real third-party files (scikit-hep-testdata 0.3.0 ROOT, PyTables' HDF5)."""

from pathlib import Path

import awkward as ak
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import skhep_testdata
import tables
import uproot

from analysis_lib.io import ParquetWriter, ReadError, iterate, read_table, write_parquet

H5 = Path(tables.__file__).parent / "tests"


def root(name):
    return skhep_testdata.data_path(name)


def test_root_flat_tree_over_several_compressions_in_chunks():
    files = [root(f"uproot-Zmumu{s}.root") for s in ("", "-zlib", "-lzma", "-lz4", "-zstd")]
    chunks = list(iterate(files, columns=["E1", "Run"], step_size=1000, library="np"))
    assert [len(c["E1"]) for c in chunks] == [1000, 1000, 304] * 5, "chunks never span files"
    direct = uproot.open(files[0])["events"]["E1"].array(library="np")
    np.testing.assert_array_equal(np.concatenate([c["E1"] for c in chunks[:3]]), direct)
    for c in chunks[3:6]:
        assert set(c) == {"E1", "Run"}


def test_root_jagged_branches_as_awkward_and_filtered_pandas():
    path = root("uproot-HZZ.root")
    arr = read_table(path, columns=["NMuon", "Muon_Px"], library="ak")
    assert ak.all(ak.num(arr["Muon_Px"]) == arr["NMuon"])
    df = read_table(path, columns=["Muon_Px"], filter=[("NMuon", ">=", 2)], library="pd")
    assert list(df.columns) == ["Muon_Px"]
    assert len(df) == int(ak.sum(arr["NMuon"] >= 2))
    assert all(len(x) >= 2 for x in df["Muon_Px"])


def test_geant4_output_needs_a_tree_name_and_reads_as_numpy():
    path = root("uproot-from-geant4.root")
    with pytest.raises(ReadError, match="pass key="):
        read_table(path)
    hits = read_table(path, key="HitStrips", library="np")
    assert hits["Energy"].dtype == np.float32
    assert len(hits["Event"]) == uproot.open(path)["HitStrips"].num_entries


def test_pytables_compound_table_and_blosc_group():
    t = read_table(H5 / "indexes_2_1.h5", key="table1", columns=["var3", "var4"])
    assert list(t.columns) == ["var3", "var4"]
    with tables.open_file(H5 / "indexes_2_1.h5") as f:
        np.testing.assert_array_equal(t["var4"], f.root.table1.col("var4"))
    # big-endian integers compressed with Blosc (via hdf5plugin), one 1-D dataset per column
    b = read_table(H5 / "blosc_bigendian.h5", library="np")
    assert b["i8"].dtype.byteorder in "=<|"
    np.testing.assert_array_equal(b["i4"], np.arange(10))


def test_lzo_compressed_hdf5_is_a_clear_error():
    with pytest.raises(ReadError, match=r"Tables_lzo1.h5: dataset '/tuple0' .* filter 305 \(lzo\)"):
        read_table(H5 / "Tables_lzo1.h5", key="tuple0")


def test_unknown_columns_missing_files_and_bad_filters(tmp_path):
    with pytest.raises(ReadError, match=r"unknown column\(s\) \['nope'\]; available"):
        read_table(root("uproot-Zmumu.root"), columns=["nope"])
    with pytest.raises(ReadError, match=r"absent\.parquet: no such file"):
        read_table(tmp_path / "absent.parquet")
    with pytest.raises(ReadError, match="op in"):
        read_table(root("uproot-Zmumu.root"), filter=[("E1", "~", 3)])
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"not parquet at all")
    with pytest.raises(ReadError, match=r"junk\.parquet: not a readable Parquet file"):
        read_table(junk)
    with pytest.raises(ReadError, match="library='xx'"):
        read_table(junk, library="xx")


def test_parquet_arrow_and_csv_agree_with_filters_and_byte_steps(tmp_path):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"energy_keV": rng.exponential(5, 10_000), "ch": rng.integers(0, 4, 10_000)})
    write_parquet(df, tmp_path / "a.parquet", metadata={"lineage": "abc123"})
    df.to_csv(tmp_path / "a.csv", index=False)
    df.to_feather(tmp_path / "a.feather")
    assert pq.read_schema(tmp_path / "a.parquet").metadata[b"lineage"] == b"abc123"
    want = df[(df.energy_keV > 2) & df.ch.isin([1, 2])].reset_index(drop=True)
    flt = [("energy_keV", ">", 2), ("ch", "in", [1, 2])]
    for name in ("a.parquet", "a.csv", "a.feather"):
        chunks = list(iterate(tmp_path / name, filter=flt, step_size="32 kB", library="pd"))
        assert len(chunks) > 3
        got = pd.concat(chunks, ignore_index=True)
        pd.testing.assert_frame_equal(got, want, check_dtype=False)


def test_parquet_writer_is_atomic(tmp_path):
    target = tmp_path / "result.parquet"
    with pytest.raises(RuntimeError), ParquetWriter(target) as w:  # noqa: PT012
        w.write({"x": np.arange(5)})
        raise RuntimeError("the step crashed")
    assert not target.exists()
    assert not list(tmp_path.iterdir()), "no temporary file left behind"
    with ParquetWriter(target) as w:
        for i in range(3):
            w.write({"x": np.arange(5) + 5 * i})
    assert pq.read_table(target)["x"].to_pylist() == list(range(15))


def test_pytables_multidimensional_fields_become_array_cells():
    t = read_table(H5 / "non-chunked-table.h5")  # a group holding one compound table
    assert list(t.columns) == ["a", "b", "c", "d"]
    assert t["c"][0].tolist() == [2.0, 3.0]
    assert t["d"][0] == "d"
    big = read_table(H5 / "smpl_compound_chunked.h5", columns=["c_name", "d_name"], library="np")
    assert big["d_name"].shape == (6, 5, 10), "a (5, 10) field keeps its shape per row"
    assert big["d_name"].dtype.byteorder in "=<|", "big-endian data is returned native"


def test_iterate_over_the_files_a_catalog_query_returns(tmp_path):
    from analysis_lib.catalog import Catalog

    with Catalog.open(tmp_path / "catalog.sqlite") as cat:
        cat.add_dataset("d")
        for run in (1, 2, 3):
            cat.add_run("d", run, run_type="physics", quality="bad" if run == 2 else "good")
            path = write_parquet({"x": np.full(10, run)}, tmp_path / f"run{run}.parquet")
            cat.add_file(path, dataset="d", run=run)
        good = cat.files(quality="good", format="parquet")
    x = np.concatenate([c["x"] for c in iterate(good, columns=["x"])])
    assert sorted(set(x)) == [1, 3]
