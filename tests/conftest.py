"""Shared pytest setup. Fixtures live in plugin modules next to this file, loaded here.

``tests/backends.py``: the database and Redis each run uses (``PAYDESK_TEST_BACKEND``), the
``backends`` marker, and the ``database_url`` / ``db_engine`` / ``db_session`` /
``redis_url`` / ``redis_prefix`` fixtures.
"""

from __future__ import annotations

pytest_plugins = ["tests.backends", "tests.stack"]
