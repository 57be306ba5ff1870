"""Shared pytest setup. Fixtures live in plugin modules, loaded here.

``tests/backends.py``: the database and Redis each run uses (``PAYDESK_TEST_BACKEND``), the
``backends`` marker, and the ``database_url`` / ``db_engine`` / ``db`` / ``db_session`` /
``redis_url`` / ``redis_prefix`` fixtures.

``tests/stack.py``: the sandbox-backed app (``make_stack``, ``stack``, and ``world`` on a
``clock`` fixture of the tests' own).

``tests/domain/users/fixtures.py``: user stacks for the mini program user's tests, domain and
API (``stacks``, ``users``, ``exchanges``).

``tests/hangs.py``: a hung test's pending asyncio tasks, printed with faulthandler's threads.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

pytest_plugins = ["tests.backends", "tests.stack", "tests.domain.users.fixtures", "tests.hangs"]

# Tests assert behaviour, not milliseconds. On CI's two cores, shared by two test workers, a
# strategy's first draw (building a Unicode category table, say) can take over a second, and
# an example over Hypothesis's 200 ms deadline: the machine, not the code under test. Every
# example is still generated and checked as before.
settings.register_profile("paydesk", suppress_health_check=[HealthCheck.too_slow], deadline=None)
settings.load_profile("paydesk")
