from alembic import context
from sqlalchemy import create_engine

# the feature tables live in their own modules on the same metadata: import them all
from services87.engine import schema_live, schema_prefs, schema_sessions, schema_workbins  # noqa: F401
from services87.engine.schema import metadata

config = context.config


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        url = config.get_main_option("sqlalchemy.url")
        if url is None:
            raise RuntimeError("no database to migrate: pass an engine or set sqlalchemy.url")
        engine = create_engine(url)
    with engine.begin() as connection:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        context.run_migrations()


run_migrations_online()
