"""Alembic's environment for the catalogue DB: always given an open connection by
:func:`repository.migrations.upgrade` (or the developer command in ``__main__``)."""

from alembic import context

from guji.repository.catalogue_db import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things: Alembic's batch mode copies the table instead
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
