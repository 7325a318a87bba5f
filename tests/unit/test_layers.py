"""The layer rules, checked: every import between Salon's packages follows the table in docs/ARCHITECTURE.md
("Layers"), which this test reads, so the document and the code cannot drift apart; and the libraries that belong
to one layer (the web framework, the database toolkit) are imported only there. Imports are read with ``ast``, so a
function-level or ``TYPE_CHECKING`` import counts the same as a top-level one."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "salon"
ARCHITECTURE = ROOT / "docs" / "ARCHITECTURE.md"

# Third-party and standard-library modules that belong to some layers only: module prefix → layers allowed.
# (app/ holds the store's connection and errors as types, never queries: only those two SQLAlchemy modules.)
CONFINED: dict[str, set[str]] = {
    "fastapi": {"web"},
    "fastapi_offline": {"web"},  # Swagger UI's files for the API docs (web/api_docs.py)
    "starlette": {"web"},
    "uvicorn": {"web", "cli"},
    "uvloop": {"broadcast"},  # the broadcast node's loop; `salon serve` gets uvloop through uvicorn
    "redis": {"adapters"},  # the Redis bus and the shared live state (adapters/redis_bus, adapters/redis_state)
    "alembic": {"store"},
    "sqlalchemy": {"store"},
    "sqlalchemy.ext.asyncio": {"store", "app"},
    "sqlalchemy.exc": {"store", "app"},
}
# The domain is pure: the standard library's modules without I/O, and nothing else of anybody's.
DOMAIN_STDLIB = {
    "__future__", "base64", "binascii", "collections", "copy", "dataclasses", "datetime", "enum", "functools",
    "hashlib", "hmac", "itertools", "json", "math", "re", "string", "typing", "unicodedata", "zoneinfo",
}  # fmt: skip


def layer_table(text: str) -> dict[str, set[str]]:
    """The "may import" table of docs/ARCHITECTURE.md: rows like ``| `app` | `domain`, `store` |``."""
    start = text.index("<!-- layer-rules -->")
    rows: dict[str, set[str]] = {}
    for line in text[start:].splitlines()[1:]:
        if not line.startswith("|"):
            if rows:
                break
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        layer = re.fullmatch(r"`(\w+)`", cells[0])
        if layer:
            rows[layer.group(1)] = set(re.findall(r"`(\w+)`", cells[1]))
    return rows


def imports_of(source: str, module: str) -> Iterator[tuple[int, str]]:
    """(line, imported module) for every import in ``source``, relative ones resolved against ``module``."""
    package = module.split(".")[:-1]  # a module's package; for a package's __init__, the package itself
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                yield node.lineno, ".".join([*base, *([node.module] if node.module else [])])
            else:
                assert node.module is not None
                yield node.lineno, node.module


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "salon" and len(parts) >= 2 and parts[1] != "__init__" else None


def confined_to(module: str) -> set[str] | None:
    """The layers that may import ``module``, by its longest confined prefix; None when anyone may."""
    best = None
    for prefix in CONFINED:
        if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > len(best)):
            best = prefix
    return None if best is None else CONFINED[best]


def violations(files: dict[str, str], table: dict[str, set[str]]) -> list[str]:
    """Every import that breaks a rule, as ``path:line: what``. ``files`` maps a dotted module name to its source."""
    found = []
    for module, source in sorted(files.items()):
        here = layer_of(module)
        if here is None:
            continue
        path = module.replace(".", "/") + ".py"
        for line, target in imports_of(source, module):
            there = layer_of(target) if target.startswith("salon.") else None
            if there is not None and there != here and there not in table.get(here, set()):
                found.append(f"{path}:{line}: {here} may not import {there} ({target})")
            allowed = confined_to(target)
            if allowed is not None and here not in allowed:
                found.append(f"{path}:{line}: {target} belongs to {', '.join(sorted(allowed))}, not {here}")
            root = target.split(".")[0]
            if here == "domain" and root != "salon" and root not in DOMAIN_STDLIB:
                found.append(f"{path}:{line}: the domain is pure; {target} is not on its list")
    return found


def salon_sources() -> dict[str, str]:
    return {
        ".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts): p.read_text()
        for p in PACKAGE.rglob("*.py")
        if "migrations" not in p.parts or p.name == "env.py"
    }


def test_every_package_of_salon_has_a_row_in_the_table() -> None:
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == set(layer_table(ARCHITECTURE.read_text()))


def test_the_table_is_an_order_no_layer_is_both_above_and_below_another() -> None:
    table = layer_table(ARCHITECTURE.read_text())
    below = {layer: set(deps) for layer, deps in table.items()}
    changed = True
    while changed:  # the transitive closure: everything each layer depends on, directly or not
        changed = False
        for deps in below.values():
            more = set().union(*(below[d] for d in deps)) - deps
            if more:
                deps |= more
                changed = True
    assert [layer for layer, deps in below.items() if layer in deps] == []


def test_every_import_follows_the_layer_rules() -> None:
    assert violations(salon_sources(), layer_table(ARCHITECTURE.read_text())) == []


# --- the checker can fail --------------------------------------------------------------------------------------


TABLE = {"domain": set(), "store": {"domain"}, "app": {"domain", "store"}, "web": {"app", "domain"}}


@pytest.mark.parametrize(
    ("module", "source", "complaint"),
    [
        ("salon.web.routes", "from salon.store import repo_rooms\n", "web may not import store"),
        ("salon.web.routes", "from ..store.repo_rooms import get_room\n", "web may not import store"),
        ("salon.domain.rules", "import asyncio\n", "the domain is pure"),
        ("salon.domain.rules", "from salon.app.ports import Clock\n", "domain may not import app"),
        ("salon.app.rooms", "from fastapi import HTTPException\n", "fastapi belongs to web"),
        ("salon.app.rooms", "from sqlalchemy import select\n", "sqlalchemy belongs to store"),
        ("salon.store.repo", "if TYPE_CHECKING:\n    from salon.app.services import Services\n", "store may not"),
    ],
)
def test_a_forbidden_import_is_found(module: str, source: str, complaint: str) -> None:
    [found] = violations({module: source}, TABLE)
    assert complaint in found


def test_allowed_imports_pass() -> None:
    files = {
        "salon.app.rooms": "from salon.store import repo_rooms\nfrom sqlalchemy.ext.asyncio import AsyncConnection\n",
        "salon.web.routes": "from fastapi import APIRouter\nfrom . import schemas\nfrom salon.app import rooms\n",
        "salon.domain.rules": "from datetime import datetime\nfrom salon.domain.errors import refuse\n",
    }
    assert violations(files, TABLE) == []


def test_the_table_is_read_from_the_document() -> None:
    text = "intro\n<!-- layer-rules -->\n\n| layer | may import |\n| --- | --- |\n| `domain` | nothing |\n"
    text += "| `app` | `domain`, `store` |\n\nafter | `x` | `y` |\n"
    assert layer_table(text) == {"domain": set(), "app": {"domain", "store"}}
