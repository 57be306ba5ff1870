"""The layer directions of docs/architecture.md, enforced on every import in src/paydesk.

``protocol`` ← ``client`` ← domain ← ``workers`` / ``api``; ``sandbox`` imports ``protocol`` only;
``protocol`` itself is pure: no clock, no randomness, no I/O.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "paydesk"

# Which paydesk sub-packages each top-level part may import (itself always allowed).
# A new top-level module must be placed here before it can exist: that is the point.
ALLOWED: dict[str, set[str]] = {
    "protocol": set(),
    "selfcheck": {"protocol"},
    "sandbox": {"protocol"},
    "client": {"protocol"},
    "settings": {"protocol"},
    "db": {"protocol", "settings"},
    "cache": {"protocol", "client", "db", "settings"},
    "domain": {"protocol", "client", "cache", "db", "settings", "webhooks"},
    "webhooks": set(),
    "workers": {"protocol", "client", "cache", "db", "domain", "settings", "webhooks"},
    "web": {"protocol", "domain", "settings"},
    "api": {
        "protocol",
        "client",
        "cache",
        "db",
        "domain",
        "settings",
        "web",
        "webhooks",
        "workers",
        "sandbox",
    },
    "cli": {
        "protocol",
        "client",
        "cache",
        "db",
        "domain",
        "settings",
        "api",
        "workers",
        "sandbox",
        "selfcheck",
        "web",
        "webhooks",
    },
    "__init__": set(),
    "__main__": {"cli"},
}

# Modules that would give the protocol layer a clock, randomness, or I/O.
IMPURE_FOR_PROTOCOL = {
    "time",
    "random",
    "secrets",
    "os",
    "socket",
    "ssl",
    "asyncio",
    "subprocess",
    "threading",
    "uuid",
    "urllib.request",
    "http",
    "httpx",
    "requests",
    "sqlalchemy",
    "redis",
    "pathlib",
    "shutil",
    "tempfile",
    "logging",
    "structlog",
}
# Calls that read the clock even when datetime itself is imported for its types.
CLOCK_CALLS = {"now", "utcnow", "today", "time", "time_ns", "monotonic", "urandom", "token_bytes"}


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def _part(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


def _imports(tree: ast.AST, path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against this file's package
                base = list(path.relative_to(SRC.parent).with_suffix("").parts)
                base = base[: len(base) - node.level]
                module = ".".join([*base, node.module] if node.module else base)
                names.append(module)
            elif node.module:
                names.append(node.module)
    return names


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_follow_the_layer_directions(path: Path) -> None:
    part = _part(path)
    assert part in ALLOWED, f"{part} is not placed in the layer table of tests/test_layers.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for name in _imports(tree, path):
        if not name.startswith("paydesk."):
            continue
        target = name.split(".")[1]
        assert target == part or target in ALLOWED[part], (
            f"{path.relative_to(SRC)} imports {name}: {part} may import only "
            f"{sorted(ALLOWED[part]) or 'nothing else of paydesk'}"
        )


@pytest.mark.parametrize(
    "path", sorted((SRC / "protocol").rglob("*.py")), ids=lambda p: str(p.relative_to(SRC))
)
def test_protocol_is_pure(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for name in _imports(tree, path):
        root = name.split(".")[0]
        assert not {name, root} & IMPURE_FOR_PROTOCOL, (
            f"{path.relative_to(SRC)} imports {name}: the protocol layer takes time, nonces "
            "and bytes as arguments instead"
        )
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            assert node.func.attr not in CLOCK_CALLS, (
                f"{path.relative_to(SRC)}:{node.lineno} calls .{node.func.attr}(): pass the "
                "time or randomness in as an argument"
            )
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id != "open", f"{path.relative_to(SRC)}:{node.lineno} opens a file"


def test_the_layer_table_catches_a_violation(tmp_path: Path) -> None:
    """The checker itself must fail on a forbidden import, or it proves nothing."""
    bad = SRC / "sandbox" / "x.py"
    tree = ast.parse("from paydesk.api import app\nimport paydesk.db.models\n")
    names = [n for n in _imports(tree, bad) if n.startswith("paydesk.")]
    forbidden = [n for n in names if n.split(".")[1] not in ALLOWED["sandbox"] | {"sandbox"}]
    assert forbidden == ["paydesk.api", "paydesk.db.models"]
    rel = ast.parse("from ..api import app\n")
    assert _imports(rel, bad) == ["paydesk.api"]
