"""Vocabulary of the catalog (kept import-light: the command line's --help uses it)."""

RUN_TYPES = ("physics", "calibration", "noise", "beam-off", "simulation")
QUALITIES = ("good", "bad", "unknown")

# File formats by suffix: what the catalog records and the readers (analysis_lib.io) open.
FORMATS_BY_SUFFIX = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".h5": "hdf5",
    ".hdf5": "hdf5",
    ".root": "root",
    ".csv": "csv",
    ".arrow": "arrow",
    ".feather": "arrow",
    ".ipc": "arrow",
    ".bin": "binary",
    ".dat": "binary",
    ".ksy": "format-description",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".json": "json",
}
