"""Alembic environment of the catalog: runs on the connection the catalog hands over.

The catalog opens the transaction itself (``BEGIN IMMEDIATE`` on SQLite, ``BEGIN`` plus an
advisory lock on PostgreSQL), so two processes opening an old catalog at once upgrade it once.
See :func:`analysis_lib.catalog.migrate_schema.upgrade`.
"""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None, transactional_ddl=False)
context.run_migrations()
