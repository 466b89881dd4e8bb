"""Opening files inside a root without ever following a link (PT-02 … PT-06, PT-11).

Every official file tool opens through this module, so what a policy checked
and what the tool touches cannot drift apart (PT-06). The walk starts from a
directory descriptor of the root and opens one component at a time with
``openat(dirfd, name, O_NOFOLLOW)``:

- a symbolic link at *any* component (including one swapped in a microsecond
  ago) makes the open fail, and the failure becomes :class:`PathEscape`: the
  opener never follows links, not even links that point back inside the root;
- ``..`` pops the walk's own stack of directory descriptors, so it can never
  climb above the root (:class:`PathEscape`) and never re-reads a name;
- the final component is opened with ``O_NOFOLLOW`` (and ``O_EXCL`` to
  create), then checked with ``fstat`` on the open descriptor: it must be a
  regular file (:class:`SpecialFile` for FIFOs, sockets and devices), and a
  file that other names share (``st_nlink > 1``) is refused for writing
  unless ``allow_hardlinks=True`` (:class:`HardLinkRefused`, PT-05);
- names in ``protected`` (``.git``, ``.actrio``, ...) are refused for every
  mode but ``"read"``, matched loosely (case-folded, NFKC, look-alike letters
  mapped to ASCII, invisible characters dropped) so ``.GIT`` or ``.g\u0456t`` with a
  Cyrillic ``\u0456`` are caught too (PT-07, PT-08);
- anything whose real location is under ``/proc``, ``/sys`` or ``/dev`` is
  refused (:class:`SpecialFile`, PT-11).

Known limit: a process that can *rename* a directory from inside the root to
outside it while a walk holds that directory's descriptor can still redirect
the walk; only an OS sandbox closes that (RELIABILITY.md decision 4).

Read-modify-write without a lost update: :func:`read_versioned` returns the
bytes and the :class:`FileVersion` they came from, and ``atomic_write(...,
expect=version)`` re-checks the name just before its rename, refusing with
:class:`FileChanged` (nothing written) when another writer got there first.

Exceptions::

    ValueError
     └── InvalidPath            empty, whitespace-only, NUL byte (B-10)
    OSError
     ├── PathResolutionError    a path could not be resolved (loop, EACCES, too long)
     ├── FileTooLarge           read_within: the file exceeds max_bytes
     ├── FileChanged            atomic_write(expect=): not the version read (ESTALE)
     └── PermissionError
          └── PathDenied        base of the refusals below
               ├── PathEscape       a link, ``..`` or absolute path leaves the root
               ├── ProtectedPath    a write to a protected name
               ├── HardLinkRefused  a write to a file with st_nlink > 1
               └── SpecialFile      FIFO, socket, device, /proc, /sys, /dev
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import stat
from typing import TYPE_CHECKING, Final, Literal

import attrs

from actrio.policy._pathnames import (
    check_path_text,
    check_protected_names,
    protected_hit,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

#: Names no official tool writes, creates or renames into (CDX-4, CC-5, PT-08).
DEFAULT_PROTECTED: Final[tuple[str, ...]] = (".git", ".actrio")

#: Top-level directories whose files are kernel interfaces, never data (PT-11).
SPECIAL_ROOTS: Final[frozenset[str]] = frozenset({"proc", "sys", "dev"})

#: The longest path the kernel accepts (Linux PATH_MAX, terminating NUL included).
PATH_MAX: Final = 4096

Mode = Literal["read", "write", "create", "replace"]
_MODES: Final = frozenset({"read", "write", "create", "replace"})

# getattr: the flags exist on Linux and macOS; elsewhere open_within refuses to run.
_O_NOFOLLOW: Final[int] = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY: Final[int] = getattr(os, "O_DIRECTORY", 0)
_O_CLOEXEC: Final[int] = getattr(os, "O_CLOEXEC", 0)
_O_NOCTTY: Final[int] = getattr(os, "O_NOCTTY", 0)
_O_NONBLOCK: Final[int] = getattr(os, "O_NONBLOCK", 0)
_DIR_FLAGS: Final = os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC
# O_NONBLOCK: a FIFO swapped in between lstat and open must not hang the open.
_FILE_FLAGS: Final = _O_NOFOLLOW | _O_CLOEXEC | _O_NOCTTY | _O_NONBLOCK
#: Bytes read at a time when re-reading a file to compare it (atomic_write's expect).
_CHUNK: Final = 64 * 1024
#: Errors an O_NOFOLLOW open reports for a symbolic link (EMLINK: FreeBSD).
_LINK_ERRNOS: Final = frozenset({errno.ELOOP, errno.ENOTDIR, errno.EMLINK})

SUPPORTED: Final[bool] = bool(_O_NOFOLLOW and _O_DIRECTORY) and os.open in os.supports_dir_fd


class PathResolutionError(OSError):
    """A path could not be resolved: a symlink loop, a permission error, a too-long name.

    Built like any :class:`OSError` (``errno``, ``strerror``, ``filename``). The
    policy engine turns it into a deny (fail closed, SH-13).
    """


class FileTooLarge(OSError):
    """:func:`read_within` found more than ``max_bytes`` bytes (``errno`` is ``EFBIG``)."""


class FileChanged(OSError):
    """``atomic_write(expect=...)``: the file is not the version read; nothing was written.

    ``errno`` is ``ESTALE`` (what was read is stale), ``strerror`` says what
    changed (deleted, replaced by another file, modified, content changed),
    ``filename`` is the path as given.
    """


class PathDenied(PermissionError):
    """Base of the refusals of the safe opener; ``filename`` is the path as given."""


class PathEscape(PathDenied):
    """A symbolic link, a ``..`` or an absolute path would leave the root (PT-01 … PT-04, PT-06)."""


class ProtectedPath(PathDenied):
    """A write, create or replace would touch a protected name such as ``.git`` (PT-08)."""


class HardLinkRefused(PathDenied):
    """A write to a regular file that other names share (``st_nlink > 1``, PT-05)."""


class SpecialFile(PathDenied):
    """Not a regular file: FIFO, socket, device, or under /proc, /sys, /dev (PT-11)."""


def _require_support() -> None:
    if not SUPPORTED:
        raise NotImplementedError("the safe opener needs O_NOFOLLOW, O_DIRECTORY and openat")


def _root_parts(path: str) -> list[str]:
    return [c for c in path.split("/") if c not in ("", ".")]


def _relative_parts(root: str, text: str) -> list[str]:
    """The walk's components: ``.`` and empty ones dropped, ``..`` kept."""
    if not text.startswith("/"):
        return _root_parts(text)
    given = _root_parts(text)
    for base in (os.path.abspath(root), os.path.realpath(root)):
        prefix = _root_parts(base)
        if given[: len(prefix)] == prefix:
            return given[len(prefix) :]
    raise PathEscape(errno.EACCES, "absolute path is not under the root", text)


def _check_location(root: str, parts: Sequence[str], text: str) -> None:
    """Refuse ``..`` above the root and real locations under /proc, /sys, /dev."""
    location = _root_parts(os.path.realpath(root))
    depth = 0
    for name in parts:
        if name == "..":
            depth -= 1
            if depth < 0:
                raise PathEscape(errno.EACCES, "'..' climbs above the root", text)
            location.pop()
        else:
            depth += 1
            location.append(name)
    if location and location[0] in SPECIAL_ROOTS:
        raise SpecialFile(errno.EACCES, f"'/{location[0]}' holds kernel interfaces", text)


def _prepare(
    root: str | os.PathLike[str], path: object, writing: bool, protected: Sequence[str]
) -> tuple[str, list[str], str]:
    """Validate and split ``path``; return (root, parent components, final name)."""
    _require_support()
    text = check_path_text(path)
    base = os.fspath(root)
    last = text.split("/")[-1]
    parts = _relative_parts(base, text)
    if last in ("", ".", "..") or not parts:
        raise IsADirectoryError(errno.EISDIR, "path names a directory", text)
    if writing:
        hit = protected_hit(parts, check_protected_names(protected))
        if hit is not None:
            raise ProtectedPath(errno.EACCES, f"component {hit!r} is protected", text)
    _check_location(base, parts, text)
    return base, parts[:-1], parts[-1]


def _is_link_at(dfd: int, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dfd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _escape_or(exc: OSError, dfd: int, name: str, text: str) -> OSError:
    """The error to raise for a failed O_NOFOLLOW open of ``name``."""
    if exc.errno in _LINK_ERRNOS and _is_link_at(dfd, name):
        return PathEscape(errno.EACCES, f"component {name!r} is a symbolic link", text)
    return exc


def _open_dir(dfd: int, name: str, create: bool, text: str) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=dfd)
    except FileNotFoundError:
        if not create:
            raise
    except OSError as exc:
        raise _escape_or(exc, dfd, name, text) from exc
    with contextlib.suppress(FileExistsError):  # lost a race: the open below decides
        os.mkdir(name, 0o777, dir_fd=dfd)
    return _open_dir(dfd, name, False, text)


def _open_parent(root: str, parents: Sequence[str], create: bool, text: str) -> int:
    """Open the directory holding the final component, one O_NOFOLLOW step at a time."""
    try:
        stack = [os.open(root, _DIR_FLAGS)]
    except OSError as exc:
        if exc.errno in _LINK_ERRNOS and os.path.islink(root):
            raise PathEscape(errno.EACCES, "the root is a symbolic link", root) from exc
        raise
    try:
        for name in parents:
            if name == "..":
                # _check_location already refused climbing above the root.
                os.close(stack.pop())
            else:
                stack.append(_open_dir(stack[-1], name, create, text))
        return stack.pop()
    finally:
        for fd in stack:
            os.close(fd)


def _lstat_at(dfd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dfd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _check_file(st: os.stat_result, name: str, text: str, *, hardlinks_ok: bool) -> None:
    """Refuse anything but a regular file; refuse shared inodes unless allowed."""
    if stat.S_ISLNK(st.st_mode):
        raise PathEscape(errno.EACCES, f"component {name!r} is a symbolic link", text)
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, "path names a directory", text)
    if not stat.S_ISREG(st.st_mode):
        kind = stat.filemode(st.st_mode)[0]
        raise SpecialFile(errno.EACCES, f"{name!r} is not a regular file (type {kind!r})", text)
    if not hardlinks_ok and st.st_nlink > 1:
        raise HardLinkRefused(
            errno.EACCES, f"{name!r} has {st.st_nlink} hard links (allow_hardlinks=False)", text
        )


def _final_flags(mode: Mode) -> int:
    if mode == "read":
        return os.O_RDONLY | _FILE_FLAGS
    if mode == "write":
        return os.O_WRONLY | os.O_CREAT | _FILE_FLAGS
    if mode == "create":
        return os.O_WRONLY | os.O_CREAT | os.O_EXCL | _FILE_FLAGS
    return os.O_WRONLY | _FILE_FLAGS


def _open_final(dfd: int, name: str, mode: Mode, hardlinks_ok: bool, text: str) -> int:
    if mode != "create":
        # Look before opening so a FIFO or device is never opened at all.
        before = _lstat_at(dfd, name)
        if before is not None:
            _check_file(before, name, text, hardlinks_ok=hardlinks_ok)
    try:
        fd = os.open(name, _final_flags(mode), 0o666, dir_fd=dfd)
    except FileExistsError as exc:
        if _is_link_at(dfd, name):  # create over a dangling link (PT-03)
            raise PathEscape(errno.EACCES, f"component {name!r} is a symbolic link", text) from exc
        raise
    except OSError as exc:
        raise _escape_or(exc, dfd, name, text) from exc
    try:
        # The descriptor is the truth: whatever was swapped in, this is what we hold.
        _check_file(os.fstat(fd), name, text, hardlinks_ok=hardlinks_ok)
        os.set_blocking(fd, True)
        if mode in ("write", "replace"):
            os.ftruncate(fd, 0)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_within(
    root: str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    mode: Mode,
    protected: Sequence[str] = DEFAULT_PROTECTED,
    allow_hardlinks: bool = False,
    parents: bool = False,
) -> int:
    """Open ``path`` inside ``root`` without following any symbolic link; return the fd.

    Relative paths are relative to ``root``; absolute ones must spell ``root``
    (as given or fully resolved) as their prefix. ``~`` is a literal name.

    Args:
        root: the directory the path must stay in. Its own path is trusted and
            may go through links, but its last component must not be a link.
        path: the path to open.
        mode: ``"read"`` (existing regular file), ``"write"`` (create or
            truncate), ``"create"`` (must not exist: ``O_EXCL``), ``"replace"``
            (existing regular file, truncated). For crash-safe replacement use
            :func:`atomic_write`.
        protected: names refused for every mode but ``"read"``.
        allow_hardlinks: write through a file with ``st_nlink > 1`` instead of
            refusing (Codex's choice; off by default, PT-05).
        parents: create missing directories on the way (not for ``"read"``).

    Returns:
        An open file descriptor (``O_CLOEXEC``, blocking); the caller closes it.

    Raises:
        PathEscape: a component is a symbolic link, ``..`` climbs above the
            root, or an absolute path is elsewhere.
        ProtectedPath: a component is protected and ``mode`` is not ``"read"``.
        HardLinkRefused: the file has other names and ``allow_hardlinks`` is off.
        SpecialFile: not a regular file, or under /proc, /sys, /dev.
        InvalidPath: empty, whitespace-only or NUL path.
        ValueError: unknown ``mode``.
        OSError: what the kernel says otherwise (``FileNotFoundError``,
            ``FileExistsError``, ``IsADirectoryError``, ...).
    """
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {sorted(_MODES)}, not {mode!r}")
    writing = mode != "read"
    base, dirs, name = _prepare(root, path, writing, protected)
    text = os.fspath(path)
    dfd = _open_parent(base, dirs, parents and writing, text)
    try:
        # Reading through a hard link reads what the name shows; only writes are refused.
        return _open_final(dfd, name, mode, allow_hardlinks or not writing, text)
    finally:
        os.close(dfd)


@attrs.frozen
class FileVersion:
    """The version of a file a read saw: identity, timestamps and a digest of the bytes.

    Made by :func:`read_versioned` from an ``fstat`` of the very descriptor
    the bytes were read through (taken before reading, so a write during the
    read leaves a version that matches nothing and is refused).

    Attributes:
        dev: ``st_dev``; with ``ino``, which file the name held.
        ino: ``st_ino``; another inode means the name was given another file.
        size: ``st_size``.
        mtime_ns: ``st_mtime_ns``; a ``utime`` call can set it back.
        ctime_ns: ``st_ctime_ns``; moved by every write, chmod or ``utime``, and
            settable by no system call.
        sha256: SHA-256 of the bytes read; catches a same-size write whose
            timestamps did not move (same clock tick, see :func:`atomic_write`).
    """

    dev: int
    ino: int
    size: int
    mtime_ns: int
    ctime_ns: int
    sha256: bytes = attrs.field(repr=bytes.hex)

    @classmethod
    def of(cls, st: os.stat_result, data: bytes) -> FileVersion:
        """The version of ``data``, read through the descriptor ``st`` describes.

        Args:
            st: ``os.fstat`` of the descriptor, taken before reading.
            data: the bytes read.

        Returns:
            The version.
        """
        digest = hashlib.sha256(data).digest()
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, digest)


def _read_all(
    root: str | os.PathLike[str], path: str | os.PathLike[str], max_bytes: int
) -> tuple[os.stat_result, bytes]:
    """:func:`read_within`, also returning the ``fstat`` taken before reading."""
    if max_bytes < 0:
        raise ValueError(f"max_bytes must be >= 0, not {max_bytes}")
    fd = open_within(root, path, mode="read")
    text = os.fspath(path)
    try:
        st = os.fstat(fd)
        size = st.st_size
        if size > max_bytes:
            raise FileTooLarge(errno.EFBIG, f"{size} bytes, limit {max_bytes}", text)
        chunks: list[bytes] = []
        total = 0
        while chunk := os.read(fd, max_bytes + 1 - total):
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:  # grew while we read
                raise FileTooLarge(errno.EFBIG, f"over {max_bytes} bytes, limit {max_bytes}", text)
        return st, b"".join(chunks)
    finally:
        os.close(fd)


def read_within(
    root: str | os.PathLike[str], path: str | os.PathLike[str], *, max_bytes: int
) -> bytes:
    """Read a whole regular file inside ``root``, refusing more than ``max_bytes``.

    Args:
        root: the directory the path must stay in.
        path: the file (see :func:`open_within`, mode ``"read"``).
        max_bytes: the most bytes returned; a bigger file raises.

    Returns:
        The file's bytes.

    Raises:
        FileTooLarge: the file holds more than ``max_bytes`` bytes (its
            ``strerror`` gives the size seen and the limit).
        ValueError: ``max_bytes`` is negative.
        PathDenied: see :func:`open_within`.
    """
    return _read_all(root, path, max_bytes)[1]


def read_versioned(
    root: str | os.PathLike[str], path: str | os.PathLike[str], *, max_bytes: int
) -> tuple[bytes, FileVersion]:
    """Read a file like :func:`read_within`; also return the version read.

    Pass the version to ``atomic_write(..., expect=version)`` to write back a
    change of these bytes only if no other writer changed the file meanwhile.

    Args:
        root: the directory the path must stay in.
        path: the file (see :func:`open_within`, mode ``"read"``).
        max_bytes: the most bytes returned; a bigger file raises.

    Returns:
        The file's bytes and their :class:`FileVersion`.

    Raises:
        FileTooLarge: the file holds more than ``max_bytes`` bytes.
        ValueError: ``max_bytes`` is negative.
        PathDenied: see :func:`open_within`.
    """
    st, data = _read_all(root, path, max_bytes)
    return data, FileVersion.of(st, data)


_GONE: Final = "the file was deleted or renamed since it was read"


def _expect_same(expect: FileVersion, st: os.stat_result | None, text: str) -> None:
    """Refuse unless ``st`` (an lstat or fstat) shows the file ``expect`` describes."""
    if st is None:
        reason = _GONE
    elif (st.st_dev, st.st_ino) != (expect.dev, expect.ino):
        reason = "the file was replaced by another file since it was read"
    elif (st.st_size, st.st_mtime_ns, st.st_ctime_ns) != (
        expect.size,
        expect.mtime_ns,
        expect.ctime_ns,
    ):
        reason = "the file was modified since it was read"
    else:
        return
    raise FileChanged(errno.ESTALE, reason, text)


def _digest(fd: int, size: int) -> bytes:
    """SHA-256 of the file at ``fd``, reading at most ``size + 1`` bytes (more is a change)."""
    digest = hashlib.sha256()
    left = size + 1
    while left > 0 and (chunk := os.read(fd, min(_CHUNK, left))):
        digest.update(chunk)
        left -= len(chunk)
    return digest.digest()


def _recheck(dfd: int, name: str, expect: FileVersion, text: str) -> None:
    """Refuse (:class:`FileChanged`) unless ``name`` still is ``expect``: the last look.

    The name is opened as every open here (``O_NOFOLLOW``, regular files only),
    so a link swapped in is still :class:`PathEscape`. Order matters: the
    content is compared through the descriptor first, then one ``lstat`` of the
    name, the last system call before the rename, catches a file renamed over
    the name while the content was being read.
    """
    try:
        fd = _open_final(dfd, name, "read", True, text)
    except FileNotFoundError as exc:
        raise FileChanged(errno.ESTALE, _GONE, text) from exc
    try:
        _expect_same(expect, os.fstat(fd), text)
        digest = _digest(fd, expect.size)
    finally:
        os.close(fd)
    if digest != expect.sha256:
        raise FileChanged(errno.ESTALE, "the file's content changed since it was read", text)
    _expect_same(expect, _lstat_at(dfd, name), text)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def atomic_write(
    root: str | os.PathLike[str],
    path: str | os.PathLike[str],
    data: bytes,
    *,
    protected: Sequence[str] = DEFAULT_PROTECTED,
    allow_hardlinks: bool = False,
    parents: bool = False,
    expect: FileVersion | None = None,
) -> None:
    """Replace (or create) a file inside ``root`` so a crash leaves old or new, never half (B-11).

    Writes a temporary file in the same directory (``O_EXCL|O_NOFOLLOW``),
    fsyncs it, then renames it over the name relative to the directory's
    descriptor. A link swapped in at the name is replaced, never followed. An
    existing file's permission bits are kept.

    With ``expect`` (from :func:`read_versioned`) this is a compare-and-swap:
    the file must exist and, checked once before the temporary file is written
    and again just before the rename, still be that version (same inode, size,
    ``mtime_ns``, ``ctime_ns`` and SHA-256 of its bytes); otherwise
    :class:`FileChanged`, the temporary file removed and the file untouched.
    POSIX has no atomic compare-and-rename, so two gaps remain. A writer
    landing between the final ``lstat`` and the rename (microseconds) is
    overwritten. A same-size write *in place* after the content re-check is
    seen only through the timestamps: caught where the kernel gives a changed
    file a fresh timestamp (Linux 6.13+ multigrain timestamps, e.g. ext4),
    missed where they are coarse (one clock tick, 4 ms at HZ=250) and the
    file's previous change fell in the same tick. And a process that holds the
    old file open and writes after the rename writes to the unnamed old inode.

    Args:
        root: the directory the path must stay in.
        path: the file to write (see :func:`open_within`).
        data: the new contents.
        protected: names refused (see :func:`open_within`).
        allow_hardlinks: replace a file with ``st_nlink > 1``. The rename gives
            the name a new inode, so the other names keep the old contents.
        parents: create missing directories on the way.
        expect: replace the file only if it still is this version.

    Raises:
        FileChanged: ``expect`` was given and the file is not that version
            (deleted, replaced, modified); nothing was written.
        PathDenied: see :func:`open_within`.
        OSError: the write, fsync or rename failed; the old file is intact and
            the temporary file is removed.
    """
    base, dirs, name = _prepare(root, path, True, protected)
    text = os.fspath(path)
    dfd = _open_parent(base, dirs, parents, text)
    try:
        before = _lstat_at(dfd, name)
        if before is not None:
            _check_file(before, name, text, hardlinks_ok=allow_hardlinks)
        if expect is not None:  # fail fast, before writing anything
            _expect_same(expect, before, text)
        tmp = f".~{secrets.token_hex(8)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _FILE_FLAGS, 0o666, dir_fd=dfd)
        try:
            try:
                if before is not None:
                    os.fchmod(fd, stat.S_IMODE(before.st_mode))
                _write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            if expect is not None:
                _recheck(dfd, name, expect, text)
            os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dfd)
            raise
        with contextlib.suppress(OSError):  # durability of the rename; best effort
            os.fsync(dfd)
    finally:
        os.close(dfd)
