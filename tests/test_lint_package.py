"""S-12, static part: library code never swallows trio.Cancelled.

Every handler that can catch ``trio.Cancelled`` (a bare ``except:``,
``except BaseException``, or ``except trio.Cancelled``, alone or in a tuple,
``except*`` included) must re-raise with a bare ``raise`` in its body, and
must not leave early with ``return``/``break``/``continue``. Raising
something else instead would turn a cancellation into an error, so that
does not count.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "actrio"

CATCH_ALL = {"BaseException", "Cancelled"}


def _names(node: ast.expr | None) -> set[str]:
    """The class names an ``except`` clause lists (the last dotted part)."""
    if node is None:
        return {"<bare>"}
    if isinstance(node, ast.Tuple):
        return set().union(*(_names(e) for e in node.elts))
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, ast.Attribute):
        return {node.attr}
    return {ast.unparse(node)}


def _catches_cancelled(handler: ast.ExceptHandler) -> bool:
    names = _names(handler.type)
    return "<bare>" in names or bool(names & CATCH_ALL)


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_LOOPS = (ast.For, ast.AsyncFor, ast.While)


def _walk_same_scope(nodes: list[ast.stmt]) -> list[tuple[ast.AST, bool]]:
    """Nodes under ``nodes`` outside nested scopes, each with "inside a nested loop"."""
    found: list[tuple[ast.AST, bool]] = []
    stack: list[tuple[ast.AST, bool]] = [(n, False) for n in nodes if not isinstance(n, _SCOPES)]
    while stack:
        node, in_loop = stack.pop()
        found.append((node, in_loop))
        inner = in_loop or isinstance(node, _LOOPS)
        stack.extend(
            (child, inner) for child in ast.iter_child_nodes(node) if not isinstance(child, _SCOPES)
        )
    return found


def _reraises(handler: ast.ExceptHandler) -> bool:
    """A bare ``raise`` in the body, and no ``return``/``break``/``continue`` around it."""
    nodes = _walk_same_scope(handler.body)
    escapes = any(
        isinstance(node, ast.Return) or (isinstance(node, ast.Break | ast.Continue) and not in_loop)
        for node, in_loop in nodes
    )
    reraises = any(isinstance(node, ast.Raise) and node.exc is None for node, _ in nodes)
    return reraises and not escapes


def violations(source: str, filename: str = "<string>") -> list[str]:
    """``file:line`` of each Cancelled-catching handler without a bare ``raise``."""
    tree = ast.parse(source, filename=filename)
    return [
        f"{filename}:{node.lineno}: except {ast.unparse(node.type) if node.type else ''}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ExceptHandler) and _catches_cancelled(node) and not _reraises(node)
    ]


def _package_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_the_scan_covers_the_package() -> None:
    files = _package_files()
    names = {f.relative_to(PACKAGE).as_posix() for f in files}
    assert {"kernel/_actor.py", "kernel/_supervisor.py", "kernel/_system.py"} <= names
    handlers = [
        node
        for f in files
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8")))
        if isinstance(node, ast.ExceptHandler) and _catches_cancelled(node)
    ]
    assert handlers, "no BaseException/Cancelled handler found: the scan is looking elsewhere"


def test_s12_no_library_handler_swallows_cancelled() -> None:
    """S-12: every bare/BaseException/Cancelled handler in src/actrio re-raises."""
    found = [
        v
        for f in _package_files()
        for v in violations(f.read_text(encoding="utf-8"), str(f.relative_to(PACKAGE.parent)))
    ]
    assert found == []


# ---------------------------------------------------------------- the checker itself

BAD = {
    "base-pass": "try:\n    f()\nexcept BaseException:\n    pass\n",
    "bare-log": "try:\n    f()\nexcept:\n    log()\n",
    "cancelled": "try:\n    f()\nexcept trio.Cancelled:\n    cleanup()\n",
    "cancelled-name": "try:\n    f()\nexcept Cancelled as c:\n    keep(c)\n",
    "in-tuple": "try:\n    f()\nexcept (ValueError, trio.Cancelled):\n    log()\n",
    "builtins": "try:\n    f()\nexcept builtins.BaseException:\n    log()\n",
    "star": "try:\n    f()\nexcept* trio.Cancelled:\n    log()\n",
    "raise-other": "try:\n    f()\nexcept BaseException as e:\n    raise RuntimeError() from e\n",
    "raise-in-nested-def": (
        "try:\n    f()\nexcept BaseException:\n    def g():\n        raise\n    g()\n"
    ),
    "loop-break": (
        "while True:\n    try:\n        f()\n    except BaseException:\n"
        "        if ok():\n            break\n        raise\n"
    ),
    "conditional-return": (
        "def h():\n    try:\n        f()\n    except BaseException:\n"
        "        if ok():\n            return\n        raise\n"
    ),
}

GOOD = {
    "base-reraise": "try:\n    f()\nexcept BaseException:\n    cleanup()\n    raise\n",
    "bare-reraise": "try:\n    f()\nexcept:\n    raise\n",
    "cancelled-reraise": "try:\n    f()\nexcept trio.Cancelled:\n    note()\n    raise\n",
    "exception-only": "try:\n    f()\nexcept Exception:\n    pass\n",
    "specific": "try:\n    f()\nexcept (ValueError, KeyError):\n    pass\n",
    "finally": "try:\n    f()\nfinally:\n    cleanup()\n",
    "inner-loop-break": (
        "try:\n    f()\nexcept BaseException:\n    for x in xs:\n        break\n    raise\n"
    ),
}


@pytest.mark.parametrize("source", BAD.values(), ids=BAD.keys())
def test_checker_flags_swallowing_handlers(source: str) -> None:
    assert len(violations(source)) == 1


@pytest.mark.parametrize("source", GOOD.values(), ids=GOOD.keys())
def test_checker_accepts_reraising_or_narrow_handlers(source: str) -> None:
    assert violations(source) == []
