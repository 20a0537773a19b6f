"""Deleted results: what the storage planner removed, when and why (meta.schema_version = 2).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A catalog written by the SQLite-only code of early December 2026 may have the table
    # already (same columns): keep it.
    if "deletions" in sa.inspect(op.get_bind()).get_table_names():
        op.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
        return
    op.create_table(
        "deletions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("dataset", sa.Text),
        sa.Column("result_key", sa.Text),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.Text),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("deleted_utc", sa.Text, nullable=False),
        sa.Column("metadata", sa.Text, nullable=False, server_default="{}"),
    )
    op.create_index("deletions_by_time", "deletions", ["deleted_utc"])
    op.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
