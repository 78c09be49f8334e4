"""The import direction of ARCHITECTURE.md rule 3 (and rule 1's "no SQL in routes"), by ``ast``.

- ``openpost.platforms`` never touches the database: it imports no SQLAlchemy and no
  openpost module outside platforms, core (minus its database plumbing) and config.
- Only ``openpost.refresh`` calls ``openpost.platforms`` (``openpost.webhooks`` may use its
  URL guard, ``platforms.netguard``, and its errors); besides platforms itself, the
  owner-consent flow ``openpost.consent`` (it runs each platform's OAuth exchange and token
  renewal), the composition roots ``openpost.app`` and ``openpost.cli`` and the demo seeder
  ``openpost.workspaces.demo`` (which seeds through the simulator) may import it. Anyone
  may read the specs (``platforms.spec``, ``platforms.specs``).
- Packages call each other's services, never each other's routes: only ``openpost.app``
  imports route modules of other packages.
- Route modules run no SQL: no SQLAlchemy statement builders, no ``.execute(`` and friends.
- ``openpost.core`` has no domain knowledge: it imports only core and config.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

import openpost

SRC = Path(openpost.__file__).resolve().parent

PLATFORM_MAY_IMPORT = ("openpost.platforms", "openpost.core", "openpost.config")
PLATFORM_MAY_NOT_IMPORT = ("openpost.core.db", "openpost.core.migrate", "sqlalchemy", "alembic")
PLATFORM_CALLERS = (
    "openpost.platforms",
    "openpost.refresh",
    "openpost.consent",
    "openpost.app",
    "openpost.cli",
    "openpost.workspaces.demo",
)
# Anyone may read the platforms' specs (labels, URL rules, budgets); only refresh builds clients.
SPEC_MODULES = ("openpost.platforms.spec", "openpost.platforms.specs")
# The URL guard (and the errors it raises) checks any user-given URL, not only platforms':
# webhooks (SPEC §9.7) send through it too.
GUARD_MODULES = ("openpost.platforms.netguard", "openpost.platforms.base")
GUARD_USERS = ("openpost.webhooks",)
SQL_BUILDERS = {"select", "insert", "update", "delete", "text", "union", "exists"}
SQL_METHODS = {"execute", "scalar", "scalars", "query", "execute_many", "exec_driver_sql"}


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    tree: ast.Module

    @property
    def package(self) -> str:
        return self.name if self.path.name == "__init__.py" else self.name.rpartition(".")[0]


def load(name: str, path: Path, source: str | None = None) -> Module:
    text = path.read_text() if source is None else source
    return Module(name, path, ast.parse(text, filename=str(path)))


def all_modules() -> list[Module]:
    modules = []
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC.parent).with_suffix("")
        parts = list(relative.parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules.append(load(".".join(parts), path))
    return modules


def imports(module: Module) -> set[str]:
    """Every module name ``module`` imports (``from a import b`` counts as a and a.b)."""
    found: set[str] = set()
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            found |= {f"{target}.{alias.name}" for alias in node.names}
    return found


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def is_package_root(name: str) -> bool:
    """``openpost`` itself and its dunders (``from openpost import __version__``)."""
    return name == "openpost" or name.startswith("openpost.__")


def platform_violations(module: Module) -> list[str]:
    if not within(module.name, ("openpost.platforms",)):
        return []
    bad = []
    for name in sorted(imports(module)):
        if within(name, PLATFORM_MAY_NOT_IMPORT) or (
            within(name, ("openpost",))
            and not within(name, PLATFORM_MAY_IMPORT)
            and not is_package_root(name)
        ):
            bad.append(f"{module.name} imports {name}")
    return bad


def caller_violations(module: Module) -> list[str]:
    if within(module.name, PLATFORM_CALLERS):
        return []
    return [
        f"{module.name} imports {name}: only openpost.refresh calls platforms"
        for name in sorted(imports(module))
        if within(name, ("openpost.platforms",))
        and not within(name, SPEC_MODULES)
        and not (within(module.name, GUARD_USERS) and within(name, GUARD_MODULES))
    ]


def is_route_module(module: Module) -> bool:
    last = module.name.rpartition(".")[2]
    return last == "routes" or last.startswith("routes_") or ".routes." in module.name + "."


def route_import_violations(module: Module) -> list[str]:
    if module.name == "openpost.app":
        return []
    bad = []
    for name in sorted(imports(module)):
        if not within(name, ("openpost",)):
            continue
        parts = name.split(".")
        if len(parts) < 3 or not (parts[2] == "routes" or parts[2].startswith("routes_")):
            continue
        owner = ".".join(parts[:2])
        if not within(module.name, (owner,)):
            bad.append(f"{module.name} imports {name}: call its service instead")
    return bad


def sql_in_route_violations(module: Module) -> list[str]:
    if not is_route_module(module):
        return []
    from_sqlalchemy = set()
    for node in ast.walk(module.tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            from_sqlalchemy |= {alias.asname or alias.name for alias in node.names}
    bad = []
    for node in ast.walk(module.tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in SQL_BUILDERS & from_sqlalchemy:
            bad.append(f"{module.name}:{node.lineno} calls {func.id}(")
        elif isinstance(func, ast.Attribute) and func.attr in SQL_METHODS:
            bad.append(f"{module.name}:{node.lineno} calls .{func.attr}(")
        elif (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id in ("sa", "sqlalchemy")
        ):
            bad.append(f"{module.name}:{node.lineno} calls {func.value.id}.{func.attr}(")
    return bad


def core_violations(module: Module) -> list[str]:
    if not within(module.name, ("openpost.core",)):
        return []
    return [
        f"{module.name} imports {name}: core has no domain knowledge"
        for name in sorted(imports(module))
        if within(name, ("openpost",))
        and not within(name, ("openpost.core", "openpost.config"))
        and not is_package_root(name)
    ]


MODULES = all_modules()


def test_the_source_tree_is_found() -> None:
    names = {m.name for m in MODULES}
    assert {"openpost.app", "openpost.platforms.base", "openpost.analytics.routes"} <= names


@pytest.mark.parametrize(
    "check",
    [
        platform_violations,
        caller_violations,
        route_import_violations,
        sql_in_route_violations,
        core_violations,
    ],
    ids=lambda f: f.__name__,
)
def test_rule_holds_for_every_module(check: object) -> None:
    assert callable(check)
    violations = [v for module in MODULES for v in check(module)]
    assert not violations, "\n".join(violations)


# --- the checks themselves catch what they should ----------------------------------------


def fake(name: str, source: str, *, init: bool = False) -> Module:
    filename = "__init__.py" if init else name.rpartition(".")[2] + ".py"
    return load(name, SRC / filename, source)


def test_platform_rule_catches_database_and_domain_imports() -> None:
    assert platform_violations(fake("openpost.platforms.x", "import sqlalchemy"))
    assert platform_violations(fake("openpost.platforms.x", "from sqlalchemy.orm import Session"))
    assert platform_violations(fake("openpost.platforms.x", "from openpost.core.db import Base"))
    assert platform_violations(fake("openpost.platforms.x", "from openpost.posts import models"))
    assert platform_violations(fake("openpost.platforms.x", "from ..analytics import writer"))
    assert platform_violations(fake("openpost.platforms.fakes.x", "from ...refresh import tiers"))
    assert platform_violations(fake("openpost.platforms.x", "from openpost import models"))
    assert not platform_violations(
        fake(
            "openpost.platforms.x",
            "import httpx\nfrom openpost import __version__\nfrom openpost.core import clock\n"
            "from openpost.config import Settings\n"
            "from openpost.platforms.base import MetricReading\nfrom .base import PlatformError",
        )
    )


def test_caller_rule_catches_platform_imports_outside_refresh() -> None:
    assert caller_violations(fake("openpost.analytics.service", "from openpost.platforms import x"))
    assert caller_violations(fake("openpost.dashboard.routes", "import openpost.platforms.base"))
    assert caller_violations(fake("openpost.posts.service", "from ..platforms.base import P"))
    assert not caller_violations(
        fake("openpost.refresh.capture", "from openpost.platforms import x")
    )
    assert not caller_violations(
        fake("openpost.workspaces.demo", "from openpost.platforms import s")
    )


def test_route_rules_catch_sql_and_foreign_routes() -> None:
    sql = "from sqlalchemy import select\ndef f(session):\n    return session.execute(select(1))"
    assert len(sql_in_route_violations(fake("openpost.posts.routes", sql))) == 2
    assert sql_in_route_violations(fake("openpost.dashboard.routes_pages", "db.scalars(q)"))
    assert sql_in_route_violations(fake("openpost.x.routes", "import sqlalchemy as sa\nsa.text(1)"))
    assert not sql_in_route_violations(fake("openpost.posts.service", sql))
    assert not sql_in_route_violations(
        fake("openpost.posts.routes", "def f(service, session):\n    return service.get(session)")
    )
    foreign = "from openpost.posts.routes import router"
    assert route_import_violations(fake("openpost.dashboard.views", foreign))
    assert not route_import_violations(fake("openpost.app", foreign))
    assert not route_import_violations(fake("openpost.posts", foreign, init=True))


def test_core_rule_catches_domain_imports() -> None:
    assert core_violations(fake("openpost.core.web", "from openpost.auth.service import Caller"))
    assert not core_violations(fake("openpost.core.web", "from openpost.core.errors import E"))


# Where a platform's stored code may be written as a string: its own folder, the Platform
# enum, migrations, and the simulator (which models every platform in test workspaces).
PLATFORM_CODES = frozenset(
    {
        "twitter",
        "bluesky",
        "mastodon",
        "youtube",
        "threads",
        "instagram",
        "facebook",
        "linkedin",
        "tiktok",
        "pinterest",
    }
)
PLATFORM_FOLDERS = {
    code: f"openpost.platforms.{'x' if code == 'twitter' else code}" for code in PLATFORM_CODES
}
MAY_NAME_EVERY_PLATFORM = (
    "openpost.integrations.models",
    "openpost.migrations",
    "openpost.platforms.synthetic",
)


def platform_literals(module: Module) -> list[str]:
    if within(module.name, MAY_NAME_EVERY_PLATFORM):
        return []
    found = []
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            code = node.value
            if code in PLATFORM_CODES and not within(module.name, (PLATFORM_FOLDERS[code],)):
                found.append(f"{module.name}:{node.lineno} names {code!r}")
    return found


def test_no_platform_is_named_outside_its_own_folder() -> None:
    """Adding a platform is one folder and one line in ``platforms.specs``: nothing else
    branches on a platform's name."""
    violations = [v for module in all_modules() for v in platform_literals(module)]
    assert violations == []


def test_platform_literal_rule_catches_a_branch() -> None:
    assert platform_literals(fake("openpost.refresh.capture", 'if p == "youtube": pass'))
    assert platform_literals(fake("openpost.platforms.x.spec", 'name = "bluesky"'))
    assert not platform_literals(fake("openpost.platforms.x.spec", 'name = "twitter"'))
    assert not platform_literals(fake("openpost.refresh.capture", '"youtube quota"'))
