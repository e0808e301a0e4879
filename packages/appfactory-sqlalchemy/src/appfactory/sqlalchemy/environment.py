"""What Alembic's ``env.py`` runs: the job that a ``db`` command put in the config.

Alembic runs ``script_template/env.py`` for every command; there is one for all
apps and packages, so that no package ships an ``env.py`` of its own.
"""

from __future__ import annotations

import typing as t
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from alembic import context
from alembic.runtime.migration import MigrationContext, MigrationInfo

import sqlalchemy as sa

#: The key, in ``alembic.config.Config.attributes``, of the :class:`Job`.
JOB = "appfactory.sqlalchemy.job"


@dataclass
class Job:
    """The connection, metadata and table filter of one Alembic command."""

    connection: sa.Connection
    metadata: sa.MetaData
    #: The tables that autogenerate compares (a package's); ``None``: every table.
    tables: frozenset[str] | None = None
    #: The revisions applied by this command, in order.
    applied: list[str] = field(default_factory=list)

    def include_object(
        self,
        obj: t.Any,  # noqa: ARG002 (Alembic's signature)
        name: str | None,
        type_: str,
        reflected: bool,  # noqa: ARG002
        compare_to: t.Any,  # noqa: ARG002
    ) -> bool:
        """Autogenerate sees only this package's tables: other packages' are left alone."""
        if type_ != "table" or self.tables is None:
            return True
        return name in self.tables

    def on_version_apply(
        self,
        ctx: MigrationContext,  # noqa: ARG002 (Alembic's signature)
        step: MigrationInfo,
        heads: Collection[t.Any],  # noqa: ARG002
        run_args: Mapping[str, t.Any],  # noqa: ARG002
    ) -> None:
        """Record each revision applied (upgrade) or reverted (downgrade)."""
        self.applied.extend(step.up_revision_ids)


def run_environment() -> None:
    """Configure Alembic's context from the job and run the migrations, one
    transaction per revision (PostgreSQL rolls a failed one back whole)."""
    job: Job = context.config.attributes[JOB]
    context.configure(
        connection=job.connection,
        target_metadata=job.metadata,
        include_object=job.include_object,
        transaction_per_migration=True,
        # SQLite alters tables by copying them: autogenerate writes batch operations.
        render_as_batch=job.connection.dialect.name == "sqlite",
        on_version_apply=job.on_version_apply,
    )
    with context.begin_transaction():
        context.run_migrations()
