"""Mini program users: ``wx.login`` codes → users and paydesk sessions, and what a user may do.

============  ===================================================================
``login``     :func:`login_with_code`: claim the code, ask WeChat once, open a session
``claims``    the ``login_codes`` row that makes a code's exchange happen once
``sessions``  :func:`authenticate` a ``pds_…`` token; open a session
``tokens``    session tokens (derived from the code) and stored digests
``people``    the ``users`` rows
``access``    :func:`order_for_user`: which orders a user may see and pay
``limits``    rate limits on logins, pay and status checks
============  ===================================================================

    login = await login_with_code(services, "wx5a0d5a0d00000001", code, client_ip="203.0.113.9")
    user = await authenticate(services, login.token)
"""

from __future__ import annotations

from paydesk.domain.users.access import order_for_user
from paydesk.domain.users.login import Login, login_with_code
from paydesk.domain.users.people import user_view
from paydesk.domain.users.sessions import authenticate
from paydesk.domain.users.tokens import TOKEN_PREFIX, looks_like_session_token

__all__ = [
    "TOKEN_PREFIX",
    "Login",
    "authenticate",
    "login_with_code",
    "looks_like_session_token",
    "order_for_user",
    "user_view",
]
