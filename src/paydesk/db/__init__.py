"""paydesk's storage: SQLAlchemy 2 models, async engines, and packaged Alembic migrations.

- :mod:`paydesk.db.engine` — ``create_engine(url)``, ``session_factory(engine)``,
  ``default_sqlite_url(data_dir)``, ``is_postgresql(engine)``;
- :mod:`paydesk.db.migrate` — ``upgrade(url)``, ``await upgrade_async(engine)``,
  ``current_revision(url)``, ``head_revision()``;
- :mod:`paydesk.db.models` — one class per table (docs/data-model.md);
- :mod:`paydesk.db.enums` — the states and other closed value sets;
- :mod:`paydesk.db.types` — ``UTCDateTime``, ``Money``, ``JSONType``.

A typical start-up::

    engine = create_engine(settings.database_url)
    await upgrade_async(engine)
    sessions = session_factory(engine)
"""
