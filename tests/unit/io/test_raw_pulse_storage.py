import h5py
import numpy as np
import pytest

from analysis_lib.io.raw import RawFile, RawFormatError, RawWriter


def adc_noise(rng, shape, sigma=8.0, baseline=2000):
    return (baseline + rng.normal(0, sigma, shape)).astype(np.int16)


def test_events_round_trip_with_random_access_and_compression(tmp_path):
    rng = np.random.default_rng(0)
    traces = adc_noise(rng, (40, 4, 4096))
    path = tmp_path / "run0001.h5"
    with RawWriter(
        path,
        sample_rate_Hz=625e3,
        channels=["PAS1", "PBS1", "PCS1", "PDS1"],
        n_samples=4096,
        attrs={"detector": "ge1"},
        event_fields={"trigger_channel": "i2"},
    ) as w:
        w.append_events(traces[:25], time_ns=np.arange(25) * 10**9, trigger_channel=1)
        w.append_events(traces[25:], time_ns=np.arange(25, 40) * 10**9, trigger_channel=2)
    with RawFile(path) as raw:
        assert raw.n_events == 40
        assert raw.channels == ["PAS1", "PBS1", "PCS1", "PDS1"]
        assert raw.attrs["detector"] == "ge1"
        np.testing.assert_array_equal(raw.event(31), traces[31])
        np.testing.assert_array_equal(raw.events([30, 2, 17]), traces[[30, 2, 17]])
        table = raw.event_table()
        assert table["trigger_channel"].tolist() == [1] * 25 + [2] * 15
        assert sum(len(b) for _, b in raw.iter_events(batch=16)) == 40
        with pytest.raises(RawFormatError, match="event 40 out of range"):
            raw.event(40)
    with h5py.File(path) as f:
        ds = f["traces"]
        assert ds.chunks == (1, 4, 4096), "one chunk per event: random access reads one chunk"
        stored = ds.id.get_storage_size()
    assert stored < traces.nbytes / 1.8, "shuffle+zstd must compress ADC noise well"


def test_stream_blocks_overlap_and_cover_the_record(tmp_path):
    rng = np.random.default_rng(1)
    data = adc_noise(rng, (2, 300_000))
    path = tmp_path / "stream.h5"
    with RawWriter(path, sample_rate_Hz=625e3, channels=["A", "B"], stream_chunk=1 << 14) as w:
        for s in range(0, data.shape[1], 70_000):
            w.append_stream(data[:, s : s + 70_000])
    with RawFile(path) as raw:
        assert raw.stream_samples == 300_000
        starts, covered = [], np.zeros(300_000, bool)
        for s, block in raw.stream_blocks(65_536, overlap=1024):
            np.testing.assert_array_equal(block, data[:, s : s + block.shape[1]])
            starts.append(s)
            covered[s : s + block.shape[1]] = True
        assert covered.all()
        assert np.diff(starts).tolist() == [65_536 - 1024] * (len(starts) - 1)
        np.testing.assert_array_equal(raw.stream(1000, 2000), data[:, 1000:2000])


def test_writer_failure_leaves_no_file_and_bad_inputs_are_named(tmp_path):
    path = tmp_path / "bad.h5"
    w = RawWriter(path, sample_rate_Hz=625e3, channels=["A"], n_samples=100)
    with pytest.raises(RawFormatError, match=r"shape \(n, 1, 100\)"):
        w.append_events(np.zeros((3, 2, 100), np.int16), time_ns=0)
    with pytest.raises(RawFormatError, match="expected int16"):
        w.append_events(np.zeros((3, 1, 100)), time_ns=0)
    w.abort()
    assert not list(tmp_path.iterdir())
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = [1]
    with pytest.raises(RawFormatError, match="not a RareHub raw file"):
        RawFile(other)
    with pytest.raises(RawFormatError, match="no such file"):
        RawFile(tmp_path / "absent.h5")


def test_seconds_long_traces_read_by_window(tmp_path):
    """7.5 M samples per trace (12 s at 625 kHz): a window reads only its chunks."""
    n = 7_500_000
    rng = np.random.default_rng(2)
    trace = adc_noise(rng, (1, 1, n), sigma=3)
    trace[0, 0, 5_000_000:5_000_100] += 500
    path = tmp_path / "long.h5"
    with RawWriter(path, sample_rate_Hz=625e3, channels=["A"], n_samples=n) as w:
        w.append_events(trace, time_ns=0)
    with RawFile(path) as raw:
        window = raw.event(0, 4_999_900, 5_000_200)
        assert window.shape == (1, 300)
        assert window[0, 100:200].min() > 2000 + 400
        with h5py.File(path) as f:
            assert f["traces"].chunks[2] < n, "long traces are split into several chunks"
