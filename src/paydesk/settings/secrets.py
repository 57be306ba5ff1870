"""Secrets in configuration: given inline, as a file path, or as the name of an env variable.

A secret is resolved once at load time into a :class:`pydantic.SecretStr`, so it never shows up
in a repr, a log line or a JSON dump::

    >>> resolve_secret({"env": "HOME"}, field="x").get_secret_value() != ""
    True
    >>> str(resolve_secret("s3cr3t-value", field="x"))
    '**********'
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pydantic import SecretStr

SecretSpec = str | dict[str, str]

_PLACEHOLDER = re.compile(
    r"^(changethis|change[-_ ]?me|placeholder|todo|tbd|secret|password|x+|0+|1234\d*|"
    r"your[-_ ].*|<.*>|\{\{.*\}\}|example.*|dummy.*|test[-_]?key)$",
    re.IGNORECASE,
)


class SecretError(ValueError):
    """A secret could not be resolved, or is a placeholder where real secrets are required."""


def resolve_secret(spec: Any, *, field: str, base_dir: Path | None = None) -> SecretStr:
    """Resolve ``"inline"``, ``{"file": "path"}`` or ``{"env": "NAME"}`` to a SecretStr.

    Relative file paths are taken relative to ``base_dir`` (the config file's folder).
    """
    if isinstance(spec, str):
        return SecretStr(spec)
    if isinstance(spec, dict) and len(spec) == 1:
        kind, ref = next(iter(spec.items()))
        if kind == "env" and isinstance(ref, str):
            value = os.environ.get(ref)
            if value is None:
                raise SecretError(f"{field}: environment variable {ref} is not set")
            return SecretStr(value)
        if kind == "file" and isinstance(ref, str):
            path = Path(ref).expanduser()
            if not path.is_absolute() and base_dir is not None:
                path = base_dir / path
            try:
                return SecretStr(path.read_text("utf-8").strip())
            except OSError as exc:
                raise SecretError(f"{field}: cannot read {path}: {exc.strerror}") from exc
    raise SecretError(
        f'{field}: give the secret inline ("…"), as {{file = "path"}} or as {{env = "NAME"}}'
    )


def is_placeholder(value: str) -> bool:
    """True for values that are obviously not a real secret ("changethis", "xxx", "<key>" …).

    >>> is_placeholder("changethis"), is_placeholder("k3Jd9sLq0ZxT")
    (True, False)
    """
    stripped = value.strip()
    return not stripped or bool(_PLACEHOLDER.match(stripped)) or len(set(stripped)) == 1
