"""The catalog schema as it was before migrations (meta.schema_version = 1).

A SQLite catalog made before alembic has exactly these tables; it is stamped at this revision
(not re-created) and upgraded from here.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meta",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("detector", sa.Text),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("simulated", sa.Integer, nullable=False, server_default="0"),
        sa.Column("generator", sa.Text),
        sa.Column("generator_version", sa.Text),
        sa.Column("generator_config", sa.Text),
        sa.Column("created_utc", sa.Text, nullable=False),
        sa.Column("metadata", sa.Text, nullable=False, server_default="{}"),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("dataset_id", sa.Integer, sa.ForeignKey("datasets.id"), nullable=False),
        sa.Column("run_number", sa.Integer, nullable=False),
        sa.Column("detector", sa.Text),
        sa.Column("run_type", sa.Text, nullable=False),
        sa.Column("start_utc", sa.Text),
        sa.Column("end_utc", sa.Text),
        sa.Column("quality", sa.Text, nullable=False, server_default="unknown"),
        sa.Column("dq_flags", sa.Text, nullable=False, server_default="[]"),
        sa.Column("metadata", sa.Text, nullable=False, server_default="{}"),
        sa.UniqueConstraint("dataset_id", "run_number"),
        sa.CheckConstraint(
            "run_type IN ('physics', 'calibration', 'noise', 'beam-off', 'simulation')",
            name="runs_run_type",
        ),
        sa.CheckConstraint("quality IN ('good', 'bad', 'unknown')", name="runs_quality"),
    )
    op.create_table(
        "files",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("dataset_id", sa.Integer, sa.ForeignKey("datasets.id"), nullable=False),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id")),
        sa.Column("path", sa.Text, nullable=False, unique=True),
        sa.Column("volume", sa.Text, nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("format", sa.Text, nullable=False),
        sa.Column("start_utc", sa.Text),
        sa.Column("end_utc", sa.Text),
        sa.Column("added_utc", sa.Text, nullable=False),
        sa.Column("verified_utc", sa.Text),
        sa.Column("metadata", sa.Text, nullable=False, server_default="{}"),
        sa.CheckConstraint("size_bytes >= 0", name="files_size_bytes"),
    )
    op.create_table(
        "growth",
        sa.Column("day", sa.Text, nullable=False),
        sa.Column("dataset_id", sa.Integer, sa.ForeignKey("datasets.id"), nullable=False),
        sa.Column("volume", sa.Text, nullable=False),
        sa.Column("bytes_added", sa.BigInteger, nullable=False),
        sa.Column("files_added", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("day", "dataset_id", "volume"),
    )
    op.create_index("runs_by_detector", "runs", ["detector", "run_type", "start_utc"])
    op.create_index("files_by_run", "files", ["run_id"])
    op.execute("INSERT INTO meta (key, value) VALUES ('schema_version', '1')")
