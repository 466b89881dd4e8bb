"""Symlink-safe path values for policies, and the safe opener the file tools use.

A policy such as ``deny fs.write(path) if not path.within(workspace)`` gets a
:class:`PolicyPath` for ``path``. Its checks resolve the path the way the
kernel does, one component at a time, following a symbolic link at *every*
component, the last one included when it exists; ``..`` applies to the
directory reached so far, after the link before it was followed; ``//`` is
``/``; ``x/``, ``x/.`` and ``x/..`` need ``x`` to be a directory. Containment
compares path components, never string prefixes, so ``/w/proj-evil/x`` is
not within ``/w/proj`` (PT-01).

Decisions pinned by ``tests/test_policy_paths.py``:

- ``~`` is **not** expanded: ``~/.ssh/id_rsa`` is a directory literally named
  ``~`` under the working directory. Nothing in actrio expands it, so the
  check and the safe opener agree. A policy that wants to refuse it can use
  ``path.starts_with("~")``.
- A **dangling** link anywhere along the way (a link whose target, or part
  of it, does not exist) makes :meth:`PolicyPath.within` False (BY-9, PT-03).
  A missing tail that goes through no link is fine: ``proj/new/file.txt`` is
  within ``proj`` before it exists.
- A **symlink loop** (more than 40 links), a permission error, or a name
  longer than the kernel allows raise :class:`PathResolutionError`; the
  policy engine turns every raised error into a deny (SH-13).
- **Names compare as the file system does.** The default is exact text,
  which is what ext4 and other Linux file systems do: ``.ENV`` is not
  ``.env``, and ``café`` in NFC and in NFD are two different names.
  ``case_insensitive=True`` (for APFS, HFS+, NTFS mounts) folds case and NFC
  normalisation in :meth:`~PolicyPath.within`, :meth:`~PolicyPath.reaches`,
  :meth:`~PolicyPath.eq` and :meth:`~PolicyPath.name_matches` (PT-07).
- **Deny-side checks match loosely**: :meth:`~PolicyPath.is_protected` and
  :meth:`~PolicyPath.mentions` compare skeletons (NFKC, casefold, look-alike
  Cyrillic/Greek letters mapped to ASCII, invisible characters dropped), so
  ``.g\u0456t`` with a Cyrillic ``\u0456`` is protected (BY-8). They look at every name
  the path mentions or passes through, not only the final location.
- **Hard links** (PT-05, decision 6): :meth:`~PolicyPath.link_count` exposes
  ``st_nlink``; the safe writers refuse a regular file with ``st_nlink > 1``
  unless ``allow_hardlinks=True``.
- **The safe opener never follows links** (PT-06): :func:`open_within`,
  :func:`read_within` and :func:`atomic_write` refuse a link at any component,
  even one that points back inside the root; ``within()`` follows links, so a
  path can pass the policy and still be refused by the tool. Tools open
  :attr:`PolicyPath.absolute` (or ``raw`` when ``cwd`` is the root), so both
  see the same text.
- **Special files** (PT-11): :meth:`~PolicyPath.is_special` is True under
  ``/proc``, ``/sys``, ``/dev`` and for FIFOs, sockets and devices; the
  official tools refuse them whatever the policy says.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import stat
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Final

import attrs

from actrio.policy._fsopen import (
    DEFAULT_PROTECTED,
    PATH_MAX,
    SPECIAL_ROOTS,
    FileChanged,
    FileTooLarge,
    FileVersion,
    HardLinkRefused,
    Mode,
    PathDenied,
    PathEscape,
    PathResolutionError,
    ProtectedPath,
    SpecialFile,
    atomic_write,
    open_within,
    read_versioned,
    read_within,
)
from actrio.policy._pathnames import (
    InvalidPath,
    check_path_text,
    check_protected_names,
    has_lookalikes,
    protected_hit,
    skeleton,
)

__all__ = (
    "DEFAULT_PROTECTED",
    "FileChanged",
    "FileTooLarge",
    "FileVersion",
    "HardLinkRefused",
    "InvalidPath",
    "Mode",
    "PathDenied",
    "PathEscape",
    "PathResolutionError",
    "PolicyPath",
    "ProtectedPath",
    "SPECIAL_ROOTS",
    "SpecialFile",
    "atomic_write",
    "open_within",
    "read_versioned",
    "read_within",
)

if TYPE_CHECKING:
    from collections.abc import Sequence

#: Links followed in one resolution before giving up (Linux MAXSYMLINKS).
MAX_SYMLINKS: Final = 40
#: The most bytes of a ``.git`` file read when looking for a ``gitdir:`` pointer.
_GITFILE_MAX: Final = 4096


@attrs.frozen
class _Walk:
    """What resolving a path found."""

    parts: tuple[str, ...]  # the location, as components below "/"
    final: os.stat_result | None  # lstat of the location; None if missing
    dangling: bool  # a link on the way points at something missing
    names: tuple[str, ...]  # every name looked up: raw components and link targets


class _Resolver:
    """Resolve one absolute path, following links like the kernel (see module doc)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.todo = list(reversed(path.split("/")))
        self.parts: list[str] = []
        self.stats: list[os.stat_result | None] = []
        self.names: list[str] = []
        # For each link being expanded: len(todo) before its target was pushed. A
        # component popped while len(todo) >= mark belongs to that link's target.
        self.marks: list[int] = []
        self.links = 0
        self.dangling = False

    def run(self) -> _Walk:
        if len(os.fsencode(self.path)) >= PATH_MAX:
            raise PathResolutionError(errno.ENAMETOOLONG, "path too long", self.path[:80])
        while self.todo:
            name = self.todo.pop()
            while self.marks and self.marks[-1] > len(self.todo):
                self.marks.pop()
            self._step(name)
        final = self.stats[-1] if self.stats else self._lstat("/")
        return _Walk(tuple(self.parts), final, self.dangling, tuple(self.names))

    def _lstat(self, here: str) -> os.stat_result | None:
        try:
            return os.lstat(here)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise PathResolutionError(exc.errno, exc.strerror, here) from exc

    def _step(self, name: str) -> None:
        if name in ("", ".", ".."):
            self._need_directory(pop=name == "..")
            return
        self.names.append(name)
        here = "/" + "/".join([*self.parts, name])
        st = self._lstat(here)
        if st is None and self.marks:
            self.dangling = True
        if st is not None and stat.S_ISLNK(st.st_mode):
            self._follow(here)
        else:
            self.parts.append(name)
            self.stats.append(st)

    def _need_directory(self, *, pop: bool) -> None:
        """``x/``, ``x/.`` and ``x/..`` need ``x`` to be a directory, as in the kernel."""
        last = self.stats[-1] if self.stats else None
        if last is not None and not stat.S_ISDIR(last.st_mode):
            self.dangling = self.dangling or bool(self.marks)
            self.stats[-1] = None  # ENOTDIR: nothing exists there
        if pop and self.parts:
            self.parts.pop()
            self.stats.pop()

    def _follow(self, here: str) -> None:
        self.links += 1
        if self.links > MAX_SYMLINKS:
            raise PathResolutionError(errno.ELOOP, "too many levels of symbolic links", here)
        try:
            target = os.readlink(here)
        except OSError as exc:  # removed or replaced since the lstat
            raise PathResolutionError(exc.errno, exc.strerror, here) from exc
        if target.startswith("/"):
            self.parts.clear()
            self.stats.clear()
        self.marks.append(len(self.todo))
        self.todo.extend(reversed(target.split("/")))


def _resolve(absolute: str) -> _Walk:
    return _Resolver(absolute).run()


def _fold(name: str) -> str:
    return unicodedata.normalize("NFC", name).casefold()


def _under(outer: tuple[str, ...], inner: tuple[str, ...]) -> bool:
    return inner[: len(outer)] == outer


def _gitdir_of(directory: tuple[str, ...]) -> tuple[str, ...] | None:
    """The resolved target of ``directory/.git`` when it is a ``gitdir:`` pointer file."""
    dotgit = "/" + "/".join([*directory, ".git"])
    try:
        st = os.lstat(dotgit)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise PathResolutionError(exc.errno, exc.strerror, dotgit) from exc
    if not stat.S_ISREG(st.st_mode) or st.st_size > _GITFILE_MAX:
        return None
    try:
        with open(dotgit, "rb") as file:
            head = file.read(_GITFILE_MAX).decode("utf-8", "surrogateescape")
    except OSError as exc:
        raise PathResolutionError(exc.errno, exc.strerror, dotgit) from exc
    if not head.startswith("gitdir:") or not head[7:].strip():
        return None
    target = os.path.join("/" + "/".join(directory), head[7:].strip())
    return _resolve(target).parts


def _as_text(value: object, method: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"PolicyPath.{method}() takes a str, not {type(value).__name__}")
    return value


def _absolute_cwd(value: Path) -> None:
    if not value.is_absolute():
        raise InvalidPath(f"cwd {str(value)!r} must be an absolute path")


@attrs.frozen
class PolicyPath:
    """A path argument as policies see it: the raw text plus symlink-aware checks.

    Build it with :meth:`of`. It is deliberately not ``os.PathLike``: open the
    path only through :func:`open_within`, which re-checks it without following
    links. Every method resolves afresh (nothing is cached); resolution errors
    raise :class:`PathResolutionError`.

    The methods a policy may call (:attr:`POLICY_METHODS`):

    - ``within(root)``: the resolved path is ``root`` (resolved) or below it,
      by components. False if any link on the way dangles. Use for allow and
      ``deny ... if not within``.
    - ``reaches(root)``: like ``within`` but a dangling link counts as the place
      it points to. Use for ``deny ... if path.reaches(secrets)``.
    - ``eq(other)``: both resolve to the same location (dangling links count
      as the place they point to).
    - ``starts_with(text)`` / ``contains(text)``: **raw text** tests, unsafe as
      the only condition of an allow rule.
    - ``name_matches(pattern)``: ``fnmatch.fnmatchcase`` of the resolved final
      name (exact case unless ``case_insensitive``).
    - ``mentions(pattern)``: loose glob over every name the path mentions or
      passes through (raw components, link names, link targets). Deny side.
    - ``is_protected()``: a name the path mentions or passes through is
      loosely a protected name, or the location is inside the directory a
      ``.git`` pointer file names (``gitdir: ...``). True for a missing file
      too: creating ``.git/hooks/x`` is protected (PT-08).
    - ``is_special()``: under ``/proc``, ``/sys``, ``/dev``, or an existing
      FIFO, socket or device (PT-11).
    - ``has_confusables()``: a name holds an invisible character, a fullwidth
      form, or mixes ASCII letters with look-alikes (PT-07).
    - ``link_count()``: ``st_nlink`` of the resolved file, 0 if missing (PT-05).
    - ``exists()``: the resolved location exists and no link dangles.

    Attributes:
        raw: the path text exactly as given.
        cwd: the absolute directory a relative ``raw`` is relative to.
        protected: the protected names (see :data:`DEFAULT_PROTECTED`).
        case_insensitive: fold case and NFC when comparing names.
    """

    POLICY_METHODS: ClassVar[frozenset[str]] = frozenset(
        {
            "within",
            "reaches",
            "eq",
            "starts_with",
            "contains",
            "name_matches",
            "mentions",
            "is_protected",
            "is_special",
            "has_confusables",
            "link_count",
            "exists",
        }
    )

    raw: str = attrs.field(converter=check_path_text)
    cwd: Path = attrs.field(converter=Path, validator=lambda _s, _a, v: _absolute_cwd(v))
    protected: tuple[str, ...] = attrs.field(
        default=DEFAULT_PROTECTED, converter=check_protected_names
    )
    case_insensitive: bool = False

    @classmethod
    def of(
        cls,
        raw: str | os.PathLike[str],
        *,
        cwd: str | os.PathLike[str],
        protected: Sequence[str] = DEFAULT_PROTECTED,
        case_insensitive: bool = False,
    ) -> PolicyPath:
        """Build a policy path from a tool argument.

        Args:
            raw: the path as the tool call gave it.
            cwd: the absolute directory relative paths start from.
            protected: names :meth:`is_protected` reports.
            case_insensitive: compare names as a case-insensitive file system.

        Returns:
            The policy path.

        Raises:
            InvalidPath: ``raw`` is empty, whitespace-only or holds NUL; ``cwd``
                is relative; a protected name is not one component (B-10).
            TypeError: ``raw`` is not text.
        """
        return cls(raw, cwd, protected, case_insensitive)

    def __str__(self) -> str:
        return self.raw

    @property
    def absolute(self) -> str:
        """The raw path joined to ``cwd``, not normalised and not resolved."""
        return os.path.join(self.cwd, self.raw)

    def resolve(self) -> Path:
        """Return the resolved location (a dangling link counts as its target).

        Raises:
            PathResolutionError: a loop, permission error or too-long name.
        """
        return Path("/", *_resolve(self.absolute).parts)

    def _other(self, value: object, method: str) -> _Walk:
        if isinstance(value, PolicyPath):
            return _resolve(value.absolute)
        text = check_path_text(value, what=f"PolicyPath.{method}() argument")
        return _resolve(os.path.join(self.cwd, text))

    def _key(self, parts: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(map(_fold, parts)) if self.case_insensitive else parts

    def within(self, root: PolicyPath | str | os.PathLike[str]) -> bool:
        """True if the resolved path is ``root`` or below it; False through a dangling link.

        Args:
            root: the directory (resolved too; relative to ``cwd`` if relative).
        """
        walk = _resolve(self.absolute)
        outer = self._other(root, "within")
        if walk.dangling or outer.dangling:
            return False
        return _under(self._key(outer.parts), self._key(walk.parts))

    def reaches(self, root: PolicyPath | str | os.PathLike[str]) -> bool:
        """True if the resolved path, following dangling links to their targets, is in ``root``.

        Args:
            root: the directory (resolved; relative to ``cwd`` if relative).
        """
        walk = _resolve(self.absolute)
        outer = self._other(root, "reaches")
        return _under(self._key(outer.parts), self._key(walk.parts))

    def eq(self, other: PolicyPath | str | os.PathLike[str]) -> bool:
        """True if both paths resolve to the same location.

        Args:
            other: the other path (relative to ``cwd`` if relative).
        """
        return self._key(_resolve(self.absolute).parts) == self._key(self._other(other, "eq").parts)

    def starts_with(self, prefix: str) -> bool:
        """Raw text test: ``raw.startswith(prefix)``. Never resolves; unsafe for allow.

        Args:
            prefix: the text.
        """
        return self.raw.startswith(_as_text(prefix, "starts_with"))

    def contains(self, text: str) -> bool:
        """Raw text test: ``text in raw``. Never resolves; unsafe for allow.

        Args:
            text: the text.
        """
        return _as_text(text, "contains") in self.raw

    def name_matches(self, pattern: str) -> bool:
        """Glob the resolved final name with ``fnmatch.fnmatchcase`` (``/`` is not special).

        Args:
            pattern: the glob, e.g. ``"*.py"``. The root directory's name is ``""``.
        """
        parts = _resolve(self.absolute).parts
        name = parts[-1] if parts else ""
        pattern = _as_text(pattern, "name_matches")
        if self.case_insensitive:
            return fnmatch.fnmatchcase(_fold(name), _fold(pattern))
        return fnmatch.fnmatchcase(name, pattern)

    def mentions(self, pattern: str) -> bool:
        """Loose glob over every name the path mentions or passes through (deny side).

        Names and pattern are compared as skeletons (see module doc), so
        ``mentions(".env")`` matches ``.ENV``, fullwidth ``.\uff45nv`` and a link
        named ``.env`` whatever it points to.

        Args:
            pattern: the glob for one name.
        """
        walk = _resolve(self.absolute)
        folded = skeleton(_as_text(pattern, "mentions"))
        return any(fnmatch.fnmatchcase(skeleton(n), folded) for n in (*walk.names, *walk.parts))

    def is_protected(self) -> bool:
        """True if the path touches a protected name or a ``gitdir:`` target (PT-08, CDX-4)."""
        walk = _resolve(self.absolute)
        if protected_hit((*walk.names, *walk.parts), self.protected) is not None:
            return True
        for depth in range(len(walk.parts)):
            gitdir = _gitdir_of(walk.parts[:depth])
            if gitdir is not None and _under(gitdir, walk.parts):
                return True
        return False

    def is_special(self) -> bool:
        """True under /proc, /sys, /dev, or for an existing FIFO, socket or device (PT-11)."""
        walk = _resolve(self.absolute)
        if walk.parts and walk.parts[0] in SPECIAL_ROOTS:
            return True
        if walk.final is None:
            return False
        # The walk followed every link, so the final lstat is never of a link.
        return not (stat.S_ISREG(walk.final.st_mode) or stat.S_ISDIR(walk.final.st_mode))

    def has_confusables(self) -> bool:
        """True if a name in the raw text or the resolution could pass for another (PT-07)."""
        walk = _resolve(self.absolute)
        return any(has_lookalikes(name) for name in (*walk.names, *walk.parts))

    def link_count(self) -> int:
        """``st_nlink`` of the resolved file; 0 if it does not exist (PT-05)."""
        final = _resolve(self.absolute).final
        return 0 if final is None else final.st_nlink

    def exists(self) -> bool:
        """True if the resolved location exists and no link on the way dangles."""
        walk = _resolve(self.absolute)
        return walk.final is not None and not walk.dangling
