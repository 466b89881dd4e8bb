"""Hypothesis strategies to property-test your own path policies (PT-01 … PT-08, PT-11).

Three building blocks:

- :func:`relative_paths`: path texts with ``..``, ``.``, empty components,
  ``~``, protected names and Unicode look-alikes (NFC/NFD ``café``, a
  Cyrillic ``\u0456`` in ``.git``);
- :func:`path_attacks`: known attacks on a workspace ``root`` (traversal,
  prefix siblings, absolute paths, ``~``, ``//``, NUL, protected names,
  special files), each with what :class:`~actrio.policy.paths.PolicyPath`
  says about it;
- :func:`symlink_trees` and :func:`materialize`: a small random tree of
  directories, files and symbolic links (dangling ones, directory links,
  links out of the root, loops) described as plain data, then built on disk.

Example::

    @given(tree=symlink_trees(), raw=relative_paths())
    def test_my_policy_never_allows_outside(tree, raw):
        with tempfile.TemporaryDirectory() as tmp:
            root = materialize(tree, Path(os.path.realpath(tmp)))
            path = PolicyPath.of(raw, cwd=root)
            if my_policy_allows(path):
                assert path.within(root)

Create a fresh directory in the test body, as above: function-scoped pytest
fixtures are not reset between hypothesis examples.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Final, Literal

import attrs
from hypothesis import strategies as st

if TYPE_CHECKING:
    from pathlib import Path

#: Directories every generated tree has, relative to the base directory.
SKELETON: Final = ("root", "root/sub", "root/sub/deep", "outside", "outside/sub")

#: Names generated entries take inside the skeleton directories.
ENTRY_NAMES: Final = ("a", "b", "c", "d", "l1", "l2")

#: Look-alike names: Cyrillic i in ``.git``, and ``café`` in NFC and NFD.
LOOKALIKE_NAMES: Final = (".g\u0456t", "caf\u00e9", "cafe\u0301")

_PATH_NAMES: Final = (
    *ENTRY_NAMES,
    "sub",
    "deep",
    "missing",
    "~",
    ".git",
    *LOOKALIKE_NAMES,
)
_TARGET_NAMES: Final = (*ENTRY_NAMES, "sub", "deep", "root", "outside", "missing", "..", ".")

EntryKind = Literal["dir", "file", "link"]
Expectation = Literal["inside", "outside", "invalid", "protected", "special"]
AttackKind = Literal[
    "traversal",
    "prefix_sibling",
    "absolute",
    "tilde",
    "double_slash",
    "nul",
    "empty",
    "protected",
    "special",
]


@attrs.frozen
class Entry:
    """One thing to create, at ``path`` relative to the base directory.

    Attributes:
        path: ``"/"``-separated, relative to the base directory.
        kind: ``"dir"``, ``"file"`` or ``"link"``.
        target: a link's text. A target starting with ``/`` is taken relative
            to the base directory (so a tree stays valid wherever it is built).
    """

    path: str
    kind: EntryKind
    target: str = ""


@attrs.frozen
class SymlinkTree:
    """A tree to build with :func:`materialize`: the skeleton plus ``entries``.

    Attributes:
        entries: created in order after the :data:`SKELETON` directories.
        root: the skeleton directory that plays the workspace.
    """

    entries: tuple[Entry, ...]
    root: str = "root"


@attrs.frozen
class PathAttack:
    """A known attack path and what actrio says about it with ``cwd`` = the root.

    Attributes:
        text: the path as a tool call would give it.
        kind: the attack family.
        expect: ``"inside"`` (within the root), ``"outside"`` (not within),
            ``"invalid"`` (:class:`~actrio.policy.paths.InvalidPath` at
            construction), ``"protected"`` (within, and ``is_protected()``) or
            ``"special"`` (``is_special()``; never within a normal root).
    """

    text: str
    kind: AttackKind
    expect: Expectation


def relative_paths(*, max_components: int = 6) -> st.SearchStrategy[str]:
    """Relative path texts: names, ``..``, ``.``, empty components, ``~``, look-alikes.

    The first component is never empty, so the text is never absolute and
    never empty.

    Args:
        max_components: the most ``/``-separated components.

    Returns:
        A strategy of path strings.
    """
    first = st.sampled_from((*_PATH_NAMES, "..", "."))
    rest = st.lists(
        st.sampled_from((*_PATH_NAMES, "..", ".", "")), max_size=max(max_components - 1, 0)
    )
    return st.builds(lambda head, tail: "/".join([head, *tail]), first, rest)


def _attacks(root: str) -> list[PathAttack]:
    root = root.rstrip("/") or "/"
    name = os.path.basename(root)
    return [
        PathAttack("../etc/passwd", "traversal", "outside"),
        PathAttack("sub/../../x", "traversal", "outside"),
        PathAttack(f"{root}/./../x", "traversal", "outside"),
        PathAttack(f"../{name}-evil/x", "prefix_sibling", "outside"),
        PathAttack(f"{root}-evil/x", "prefix_sibling", "outside"),
        PathAttack("/etc/passwd", "absolute", "outside"),
        PathAttack(f"{root}/x", "absolute", "inside"),
        PathAttack("~/.ssh/id_rsa", "tilde", "inside"),
        PathAttack("//etc", "double_slash", "outside"),
        PathAttack(f"/{root}/x", "double_slash", "inside"),
        PathAttack("a\0b", "nul", "invalid"),
        PathAttack("x/../\0", "nul", "invalid"),
        PathAttack("", "empty", "invalid"),
        PathAttack(" \t", "empty", "invalid"),
        PathAttack(".git/config", "protected", "protected"),
        PathAttack(".git/hooks/pre-commit", "protected", "protected"),
        PathAttack(".actrio/policy.toml", "protected", "protected"),
        PathAttack(".GIT/config", "protected", "protected"),
        PathAttack(".g\u0456t/config", "protected", "protected"),
        PathAttack("sub/../.git/HEAD", "protected", "protected"),
        PathAttack("/proc/self/environ", "special", "special"),
        PathAttack("/dev/zero", "special", "special"),
        PathAttack("/dev/tcp/example.com/443", "special", "special"),
        PathAttack("/sys/kernel/notes", "special", "special"),
    ]


def _padded(attack: PathAttack, pad: int) -> PathAttack:
    """Prefix ``./`` ``pad`` times: same meaning, different text."""
    if attack.expect == "invalid" or attack.text.startswith("/"):
        return attack
    return attrs.evolve(attack, text="./" * pad + attack.text)


def path_attacks(root: str) -> st.SearchStrategy[PathAttack]:
    """Known attacks on the workspace ``root`` (an absolute path without links).

    Args:
        root: the workspace, also the ``cwd`` the attacks are relative to.

    Returns:
        A strategy of :class:`PathAttack`; relative ones are sometimes padded
        with ``./`` so matchers that compare text are caught out.
    """
    return st.builds(_padded, st.sampled_from(_attacks(root)), st.integers(0, 2))


def _link_target(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        return "/" + draw(st.sampled_from(SKELETON)) + "/" + draw(st.sampled_from(ENTRY_NAMES))
    parts = draw(st.lists(st.sampled_from(_TARGET_NAMES), min_size=1, max_size=4))
    return "/".join(parts)


@st.composite
def _entry(draw: st.DrawFn) -> Entry:
    path = draw(st.sampled_from(SKELETON)) + "/" + draw(st.sampled_from(ENTRY_NAMES))
    kind: EntryKind = draw(st.sampled_from(("dir", "file", "link", "link")))
    return Entry(path, kind, _link_target(draw) if kind == "link" else "")


def symlink_trees(*, max_entries: int = 12) -> st.SearchStrategy[SymlinkTree]:
    """Small trees: the :data:`SKELETON` plus directories, files and links in it.

    Links point at siblings, parents, the other side of the root, missing
    names (dangling), themselves or each other (loops), by relative or
    base-absolute targets.

    Args:
        max_entries: the most entries besides the skeleton.

    Returns:
        A strategy of :class:`SymlinkTree`.
    """
    entries = st.lists(_entry(), max_size=max_entries, unique_by=lambda e: e.path)
    return st.builds(SymlinkTree, entries.map(tuple))


def materialize(tree: SymlinkTree, base_dir: Path) -> Path:
    """Build ``tree`` under ``base_dir`` (which should be empty) and return its root.

    Args:
        tree: the tree to build.
        base_dir: an existing directory; pass a resolved path
            (``os.path.realpath``) if you compare resolved paths later.

    Returns:
        ``base_dir / tree.root``.
    """
    for directory in SKELETON:
        (base_dir / directory).mkdir(parents=True, exist_ok=True)
    for entry in tree.entries:
        where = base_dir / entry.path
        if entry.kind == "dir":
            where.mkdir()
        elif entry.kind == "file":
            where.write_text(entry.path, encoding="utf-8")
        else:
            target = entry.target
            if target.startswith("/"):
                target = os.path.join(base_dir, target.lstrip("/"))
            os.symlink(target, where)
    return base_dir / tree.root
