"""The catalog's tables as SQLAlchemy Core objects: one schema for SQLite and PostgreSQL.

The migrations in ``migrations/versions/`` build exactly these tables, step by step; this
module is what the code and the copy tools (``snapshot``, ``migrate``) read. Times are ISO-8601
UTC text and JSON is text in both backends (sizes are BIGINT: PostgreSQL's INTEGER
is 32 bit), so a row copies between them unchanged.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
)

# The newest alembic revision; a catalog whose ``alembic_version`` differs is upgraded on a
# writable open. ``tests/unit/catalog`` checks that this is the head of migrations/versions.
SCHEMA_HEAD = "0002"
SCHEMA_VERSION = 2  # also kept in meta.schema_version for people reading the file by hand

metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

datasets = Table(
    "datasets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("detector", Text),
    Column("description", Text, nullable=False, server_default=""),
    Column("simulated", Integer, nullable=False, server_default="0"),
    Column("generator", Text),
    Column("generator_version", Text),
    Column("generator_config", Text),
    Column("created_utc", Text, nullable=False),
    Column("metadata", Text, nullable=False, server_default="{}"),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("dataset_id", Integer, ForeignKey("datasets.id"), nullable=False),
    Column("run_number", Integer, nullable=False),
    Column("detector", Text),
    Column("run_type", Text, nullable=False),
    Column("start_utc", Text),
    Column("end_utc", Text),
    Column("quality", Text, nullable=False, server_default="unknown"),
    Column("dq_flags", Text, nullable=False, server_default="[]"),
    Column("metadata", Text, nullable=False, server_default="{}"),
    UniqueConstraint("dataset_id", "run_number"),
    CheckConstraint(
        "run_type IN ('physics', 'calibration', 'noise', 'beam-off', 'simulation')",
        name="runs_run_type",
    ),
    CheckConstraint("quality IN ('good', 'bad', 'unknown')", name="runs_quality"),
)

files = Table(
    "files",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("dataset_id", Integer, ForeignKey("datasets.id"), nullable=False),
    Column("run_id", Integer, ForeignKey("runs.id")),
    Column("path", Text, nullable=False, unique=True),
    Column("volume", Text, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("sha256", Text, nullable=False),
    Column("format", Text, nullable=False),
    Column("start_utc", Text),
    Column("end_utc", Text),
    Column("added_utc", Text, nullable=False),
    Column("verified_utc", Text),
    Column("metadata", Text, nullable=False, server_default="{}"),
    CheckConstraint("size_bytes >= 0", name="files_size_bytes"),
)

growth = Table(
    "growth",
    metadata,
    Column("day", Text, nullable=False),
    Column("dataset_id", Integer, ForeignKey("datasets.id"), nullable=False),
    Column("volume", Text, nullable=False),
    Column("bytes_added", BigInteger, nullable=False),
    Column("files_added", BigInteger, nullable=False),
    PrimaryKeyConstraint("day", "dataset_id", "volume"),
)

deletions = Table(
    "deletions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("path", Text, nullable=False),
    Column("dataset", Text),
    Column("result_key", Text),  # e.g. the lineage key of a processed result
    Column("size_bytes", BigInteger, nullable=False),
    Column("sha256", Text),
    Column("reason", Text, nullable=False),
    Column("deleted_utc", Text, nullable=False),
    Column("metadata", Text, nullable=False, server_default="{}"),
)

Index("runs_by_detector", runs.c.detector, runs.c.run_type, runs.c.start_utc)
Index("files_by_run", files.c.run_id)
Index("deletions_by_time", deletions.c.deleted_utc)

# Copy order: parents before children (the copy tools keep ids, so foreign keys stay true).
TABLES = (meta, datasets, runs, files, growth, deletions)
