"""Keep credentials out of the logs of the libraries paydesk drives.

WeChat takes credentials in query strings (``/sns/jscode2session?appid=…&secret=…``,
``/cgi-bin/message/custom/send?access_token=…``) and httpx logs every request's URL at INFO;
aiosqlite logs every statement *with its parameters* at DEBUG — session keys among them.
:func:`guard_library_logs` (called by ``build_services``) masks the first and drops the
parameters from the second, whatever level the operator logs at.

    >>> mask_credentials("GET http://x/sns/jscode2session?appid=wx1&secret=s3&js_code=c0")
    'GET http://x/sns/jscode2session?appid=wx1&secret=***&js_code=***'
"""

from __future__ import annotations

import functools
import logging
import re

__all__ = ["CREDENTIAL_PARAMETERS", "guard_library_logs", "mask_credentials"]

#: Query parameters that carry a credential in WeChat's APIs (PROTOCOL.md §4.1–4.5).
CREDENTIAL_PARAMETERS = ("secret", "access_token", "js_code", "code", "refresh_token")

_IN_QUERY = re.compile(rf"(?i)([?&](?:{'|'.join(CREDENTIAL_PARAMETERS)})=)[^&#\s\"']*")


def mask_credentials(text: str) -> str:
    """``text`` with the value of every credential query parameter replaced by ``***``."""
    return _IN_QUERY.sub(r"\1***", text)


class _MaskCredentials(logging.Filter):
    """Rewrites a record whose message shows a credential in a URL."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_credentials(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


class _WithoutParameters(logging.Filter):
    """aiosqlite logs each call to its thread as ``functools.partial(execute, sql, params)``:
    keep the call and its SQL, drop the parameters."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(
            isinstance(arg, functools.partial) for arg in record.args
        ):
            record.args = tuple(_described(arg) for arg in record.args)
        return True


def _described(arg: object) -> object:
    if not isinstance(arg, functools.partial):
        return arg
    name = getattr(arg.func, "__name__", "call")
    if arg.args and isinstance(arg.args[0], str):
        return f"{name}({arg.args[0]!r}, <parameters not logged>)"
    return f"{name}(<arguments not logged>)"


_GUARDS: dict[str, logging.Filter] = {
    "httpx": _MaskCredentials(),
    "aiosqlite": _WithoutParameters(),
}


def guard_library_logs() -> None:
    """Install the filters (once per process; calling again changes nothing).

    >>> guard_library_logs(); guard_library_logs()
    >>> sum(isinstance(f, _MaskCredentials) for f in logging.getLogger("httpx").filters)
    1
    """
    for name, guard in _GUARDS.items():
        logger = logging.getLogger(name)
        if guard not in logger.filters:
            logger.addFilter(guard)
