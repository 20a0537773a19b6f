"""Readers on real third-party files (scikit-hep-testdata 0.3.0 ROOT, PyTables' HDF5)."""

import re
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


# ---------------------------------------------------------------- issue: readers that never misread
@pytest.mark.parametrize(
    ("row", "found"),
    [("4,5,6,7", 4), ("4,,5,6", 4), ("4,5", 2), ('"4,5",6', 2)],
)
@pytest.mark.parametrize("columns", [None, ["a", "b"]])
def test_csv_ragged_row_is_named_not_misread(tmp_path, row, found, columns):
    path = tmp_path / "ragged.csv"
    path.write_text(f"a,b,c\n1,2,3\n\n{row}\n7,8,9\n")
    with pytest.raises(ReadError, match=rf"ragged\.csv: line 4 has {found} fields.* expected 3"):
        read_table(path, columns=columns)
    path.write_text("a,b,c\n1,2,3\n4,,6\n")  # an empty field is a missing value, not ragged
    got = read_table(path, columns=columns)
    assert got["b"].isna().tolist() == [False, True]


def test_csv_text_that_looks_like_na_stays_text(tmp_path):
    path = tmp_path / "names.csv"
    path.write_text("det,e\nNA,1.5\nnull,nan\nNone,\n")
    got = read_table(path)
    assert got["det"].tolist() == ["NA", "null", "None"]
    assert got["e"].dtype == np.float64
    assert got["e"].isna().tolist() == [False, True, True]


def test_root_grouping_branches_are_read_as_their_leaves():
    path = root("uproot-small-evnt-tree-fullsplit.root")
    got = read_table(path, library="np")
    tree = uproot.open(path)["tree"]
    leaves = tree.keys(filter_branch=lambda b: not b.branches)
    assert list(got) == leaves
    np.testing.assert_array_equal(got["evt/P3/P3.Px"], tree["evt/P3/P3.Px"].array(library="np"))
    with pytest.raises(
        ReadError, match=r"fullsplit\.root: branch 'evt/P3' .* grouping branch.*P3\.Px"
    ):
        read_table(path, columns=["evt/P3"])


@pytest.mark.parametrize(
    ("name", "branch"),
    [
        ("uproot-issue465-flat.root", "Evt/AAObject/any"),
        ("uproot-mc10events.root", "Info/triggerBits"),
        ("uproot-small-dy-nooffsets.root", "Jet_jetId"),
    ],
)
def test_root_unreadable_branches_are_named_and_the_rest_reads(name, branch):
    path = root(name)
    with pytest.raises(ReadError) as err:
        read_table(path, library="ak")
    msg = str(err.value)
    assert msg.startswith(f"{path}: TTree")
    assert repr(branch) in msg
    assert "columns=" in msg
    named = re.findall(r"'([^']+)'", msg.split("cannot be read")[0].split(": ", 2)[2])
    assert branch in named
    tree = uproot.open(path)[msg.split("'")[1]]
    rest = [k for k in tree.keys(filter_branch=lambda b: not b.branches) if k not in named]
    got = read_table(path, columns=rest[:20], library="ak")
    assert len(got) == tree.num_entries


def test_root_branches_of_one_name_are_named_not_confused():
    """uproot-issue371.root's TTree 'Event' has two top-level branches called 'Primary.'
    (a split object and a leaf): reading by that name would get either."""
    path = root("uproot-issue371.root")
    with pytest.raises(ReadError, match=r"issue371\.root \(TTree 'Event'\): .*\['Primary\.'\]"):
        read_table(path, key="Event")
    got = read_table(path, key="Event", columns=["Primary./Primary.energy"], library="ak")
    assert len(got) == uproot.open(path)["Event"].num_entries


def test_root_branches_shorter_than_their_tree_are_named():
    with pytest.raises(ReadError, match=r"issue327\.root: TTree 'DstTree' holds 98 entries.*"):
        read_table(root("uproot-issue327.root"))


@pytest.mark.parametrize("library", ["np", "pd"])
def test_root_doubly_jagged_columns_as_numpy_cells(library):
    path = root("uproot-vectorVectorDouble.root")
    got = read_table(path, library=library)
    want = uproot.open(path)["t"]["x"].array(library="ak").to_list()
    cells = list(got["x"])
    assert len(cells) == len(want) == 5
    for cell, expected in zip(cells, want, strict=True):
        assert [list(inner) for inner in cell] == expected


def test_root_files_without_a_ttree_say_what_they_hold():
    with pytest.raises(ReadError, match=r"histograms\.root: holds no TTree.*TH1F.*'one'") as e:
        read_table(root("uproot-histograms.root"))
    assert "key=" not in str(e.value)
    with pytest.raises(ReadError, match=r"ntpl001_staff\.root: holds no TTree.*RNTuple.*'Staff'"):
        read_table(root("uproot-ntpl001_staff.root"))
    with pytest.raises(ReadError, match=r"issue70\.root: holds no objects at all"):
        read_table(root("uproot-issue70.root"))
    # a TNtuple is a TTree
    got = read_table(root("uproot-hepdata-example.root"), columns=["px"], library="np")
    assert len(got["px"]) == uproot.open(root("uproot-hepdata-example.root"))["ntuple"].num_entries


def test_pytables_time_columns_are_named():
    with pytest.raises(
        ReadError, match=r"times-nested-be\.h5: dataset '/tbl': column 'nested\.t64' .*H5T_TIME"
    ):
        read_table(H5 / "times-nested-be.h5")
    # a group of 1-D datasets is a table; one of them is a float numpy has no type for
    with pytest.raises(ReadError, match=r"float\.h5: dataset '/\w+': .*floating-point format"):
        read_table(H5 / "float.h5")


def test_hdf5_without_a_table_says_what_it_holds():
    with pytest.raises(
        ReadError, match=r"scalar\.h5: holds no table.*it holds /.* \(dataset, shape"
    ):
        read_table(H5 / "scalar.h5")


def test_parquet_decimal_is_exact_or_a_named_error(tmp_path):
    import decimal

    import pyarrow as pa

    path = tmp_path / "money.parquet"
    values = [decimal.Decimal("1.25"), decimal.Decimal("-0.07")]
    pq.write_table(pa.table({"price": pa.array(values, pa.decimal128(5, 2)), "n": [1, 2]}), path)
    assert read_table(path)["price"].tolist() == values
    with pytest.raises(ReadError, match=r"money\.parquet: column 'price' .*decimal.*library='pd'"):
        read_table(path, library="ak")
    assert read_table(path, columns=["n"], library="ak")["n"].tolist() == [1, 2]


def test_zero_row_parquet_keeps_columns_and_types(tmp_path):
    path = tmp_path / "empty.parquet"
    df = pd.DataFrame({"e_keV": pd.Series([], dtype="float32"), "ch": pd.Series([], dtype="int16")})
    write_parquet(df, path)
    got = read_table(path)
    assert got.shape == (0, 2)
    assert got.dtypes.to_dict() == df.dtypes.to_dict()
    arrays = read_table(path, library="np")
    assert {k: v.dtype for k, v in arrays.items()} == {"e_keV": np.float32, "ch": np.int16}
    assert str(read_table(path, library="ak").type) == "0 * {e_keV: float32, ch: int16}"
    chunks = list(iterate(path, library="pd"))
    assert len(chunks) == 1
    assert list(chunks[0].columns) == ["e_keV", "ch"]


def test_timestamps_keep_their_time_zone(tmp_path):
    t = pd.date_range("2026-03-29 00:30", periods=4, freq="h", tz="Europe/Zurich")  # DST day
    df = pd.DataFrame({"t": t, "x": np.arange(4)})
    write_parquet(df, tmp_path / "t.parquet")
    df.to_feather(tmp_path / "t.feather")
    for name in ("t.parquet", "t.feather"):
        got = read_table(tmp_path / name, filter=[("x", ">=", 1)])
        assert got["t"].dtype == df["t"].dtype
        assert str(got["t"].dt.tz) == "Europe/Zurich"
        pd.testing.assert_series_equal(got["t"], df["t"][1:].reset_index(drop=True))
        utc = read_table(tmp_path / name, library="np")["t"]  # numpy: exact UTC instants
        np.testing.assert_array_equal(utc, t.tz_convert("UTC").tz_localize(None).to_numpy())


def test_parquet_integers_with_nulls_stay_exact(tmp_path):
    import pyarrow as pa

    path = tmp_path / "ids.parquet"
    big = 2**60 + 1  # not representable as float64
    pq.write_table(pa.table({"id": pa.array([big, None, 3], pa.int64())}), path)
    assert read_table(path)["id"].tolist()[::2] == [big, 3]
    assert read_table(path)["id"].isna().tolist() == [False, True, False]
    arr = read_table(path, library="np")["id"]
    assert arr.dtype == np.int64
    assert arr.mask.tolist() == [False, True, False]
    assert int(arr[0]) == big
    assert read_table(path, filter=[("id", ">", 0)], library="np")["id"].tolist() == [big, 3]
