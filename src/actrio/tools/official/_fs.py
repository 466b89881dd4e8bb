r"""The file tools: ``read_file``, ``write_file`` and ``edit_file`` (``fs.read/write/edit``).

Each tool takes the catalog's parameters for its capability, so a policy
such as ``deny fs.write(path) if path.is_protected()`` binds them. Relative
paths are taken from :attr:`ToolContext.root <actrio.tools._context.ToolContext.root>`
(the workspace, or the current directory outside a runtime); an absolute
path must lie under it.

The tools are safe by construction, whatever the policies allowed: every
open goes through the safe opener of :mod:`actrio.policy.paths`, a chain of
directory-relative ``O_NOFOLLOW`` opens from the root, so a symbolic link
at any component (to outside, dangling, or a linked directory), a ``..``
above the root, a FIFO or device, or a swap made between a check and the
open never lets a read or write land outside the root (PT-02, PT-03, PT-04,
PT-06, PT-11). Writes refuse the context's protected names (``.git``,
``.actrio``) even for a missing file (PT-08), refuse files with other hard
links (PT-05), and replace files atomically: a temporary file in the same
directory, fsynced, then renamed over the name, so a crash leaves the old
file or the new one, never half of each (B-11).

``edit_file`` does not lose a concurrent update (B-11): it remembers the
version it read (inode, size, timestamps, SHA-256 of the bytes) and, just
before its rename, refuses with :class:`FileChangedDuringEdit` if the file
changed meanwhile; nothing is written and the model can read again and
retry. POSIX has no atomic compare-and-rename, so a writer landing in the
microseconds between that last check and the rename is still overwritten
(see :func:`~actrio.policy.paths.atomic_write` for the residual risk).
``write_file`` replaces the whole file and stays last-writer-wins.

Text: a file is read as UTF-8, invalid bytes replaced with U+FFFD, at most
:data:`READ_MAX_BYTES` bytes, with a marker giving the file's full size
(B-05). Text from the model is written as UTF-8; argument validation
refuses an unpaired surrogate (valid JSON, ``"\ud800"``, but not text), and
a direct call of the function writes U+FFFD for it. ``edit_file`` matches the
UTF-8 bytes of ``old`` exactly, so the bytes around the edit are kept as
they were, even in a file that is not valid UTF-8.

Errors are the tools' own, so the model is told what went wrong (a plain
exception would reach it only as "failed with PathEscape", see
:class:`~actrio.tools.errors.ToolFailed`); the :mod:`actrio.policy.paths`
error they stand for is chained as ``__cause__``::

    ToolError
    ├── FileToolError          the file could not be read or written (OSError):
    │   │                      missing, a directory, too large to edit, an empty path
    │   ├── PathRefused        the safe opener refused the path (PermissionError): a
    │   │                      link, ``..`` above the root, a protected name, a special
    │   │                      file, a hard-linked file
    │   └── FileChangedDuringEdit  ``edit_file``: another writer changed the file
    │                          between the read and the write; nothing was written
    └── EditError              ``edit_file``'s ``old`` does not pick one place (ValueError);
        ├── EmptyOldText       the file is unchanged
        ├── OldTextNotFound
        └── OldTextAmbiguous
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import os
import re
from typing import TYPE_CHECKING, Final

from actrio.policy._fsopen import FileChanged, read_versioned
from actrio.policy.paths import (
    FileTooLarge,
    InvalidPath,
    PathDenied,
    atomic_write,
    open_within,
)
from actrio.tools._context import current_tool_context
from actrio.tools._tool import tool
from actrio.tools.errors import ToolError

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = (
    "EDIT_MAX_BYTES",
    "READ_MAX_BYTES",
    "EditError",
    "EmptyOldText",
    "FileChangedDuringEdit",
    "FileToolError",
    "OldTextAmbiguous",
    "OldTextNotFound",
    "PathRefused",
    "edit_file",
    "read_file",
    "write_file",
)

READ_MAX_BYTES: Final = 256 * 1024
"""Bytes of a file ``read_file`` returns; the rest is cut with a marker."""

EDIT_MAX_BYTES: Final = 8 * 1024 * 1024
"""The largest file ``edit_file`` edits (it holds the file in memory twice)."""

_CHUNK: Final = 64 * 1024
_SURROGATE: Final = re.compile("[\ud800-\udfff]")


class FileToolError(ToolError, OSError):
    """A file tool could not read or write the path; the original error is ``__cause__``.

    Attributes:
        path: The path as the call gave it.
        reason: What went wrong, in a few words.
    """

    def __init__(self, path: str, reason: str, code: int | None = None) -> None:
        super().__init__(code, reason, path)
        self.path = path
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.path!r}: {self.reason}"

    def __reduce__(self) -> tuple[type[FileToolError], tuple[str, str, int | None]]:
        return type(self), (self.path, self.reason, self.errno)


class PathRefused(FileToolError, PermissionError):
    """The safe opener refused the path (PT-02 … PT-08, PT-11).

    A symbolic link at some component, ``..`` above the root, an absolute
    path elsewhere, a protected name, a special file or a hard-linked file.
    """


class FileChangedDuringEdit(FileToolError):
    """``edit_file``: the file changed between its read and its write; nothing was written.

    Another writer (a process, another tool call) deleted, replaced or
    modified the file after ``edit_file`` read it, so writing the edit would
    have thrown that change away (a lost update). The file is as the other
    writer left it and no temporary file remains; read it again and retry.
    An :class:`OSError` like the other file failures (``errno`` is ``ESTALE``),
    not an :class:`EditError`: ``old`` was fine, the file moved under it.
    """

    def __str__(self) -> str:
        return (
            f"{self.path!r}: {self.reason}; nothing was written."
            " Read the file again and redo the edit"
        )


class EditError(ToolError, ValueError):
    """``edit_file``'s ``old`` text does not pick exactly one place; the file is unchanged.

    Attributes:
        path: The path as the call gave it.
        count: How many times ``old`` occurs (0 when it is empty).
    """

    def __init__(self, path: str, count: int = 0) -> None:
        super().__init__(path, count)
        self.path = path
        self.count = count

    def __str__(self) -> str:
        return f"{self.path!r}: old text does not pick one place"


class EmptyOldText(EditError):
    """``old`` is empty: it occurs everywhere, so it picks no place."""

    def __str__(self) -> str:
        return f"{self.path!r}: old text is empty; give the exact text to replace"


class OldTextNotFound(EditError):
    """``old`` does not occur in the file (the comparison is exact, whitespace included)."""

    def __str__(self) -> str:
        return (
            f"{self.path!r}: old text not found; it must match the file exactly,"
            " whitespace and line endings included (read the file again)"
        )


class OldTextAmbiguous(EditError):
    """``old`` occurs more than once; ``count`` says how often (overlaps included)."""

    def __str__(self) -> str:
        return (
            f"{self.path!r}: old text occurs {self.count} times; it must occur exactly"
            " once, so include more of the surrounding text"
        )


@contextlib.contextmanager
def _file_errors(path: str) -> Iterator[None]:
    """Map the safe opener's and the kernel's errors to the tools' own, in one place."""
    try:
        yield
    except FileChanged as exc:
        raise FileChangedDuringEdit(path, exc.strerror or "changed", exc.errno) from exc
    except PathDenied as exc:
        raise PathRefused(path, exc.strerror or "refused", exc.errno) from exc
    except FileTooLarge as exc:
        raise FileToolError(path, f"too large to edit ({exc.strerror})", exc.errno) from exc
    except InvalidPath as exc:
        raise FileToolError(path, "the path is empty or holds a NUL byte", errno.EINVAL) from exc
    except OSError as exc:
        raise FileToolError(path, exc.strerror or type(exc).__name__, exc.errno) from exc


def _encode(text: str) -> bytes:
    """UTF-8 of the model's text; unpaired surrogates (valid JSON, not text) become U+FFFD."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text).encode("utf-8")


def _read_head(fd: int, limit: int) -> bytes:
    """Up to ``limit`` bytes from ``fd``, plus one more if the file has more."""
    chunks: list[bytes] = []
    total = 0
    while total <= limit and (chunk := os.read(fd, min(_CHUNK, limit + 1 - total))):
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _read_text(root: str | os.PathLike[str], path: str, *, max_bytes: int) -> str:
    """Read a file inside ``root`` as UTF-8 text, cut at ``max_bytes`` with a size marker.

    Args:
        root: The directory the path must stay in.
        path: The file, relative to ``root`` or absolute under it.
        max_bytes: Bytes of the file decoded; a longer file ends with
            ``[truncated: the file is N bytes; the first M are shown]``.

    Returns:
        The text, invalid UTF-8 replaced with U+FFFD.

    Raises:
        PathRefused: The safe opener refused the path.
        FileToolError: The file is missing, a directory, or unreadable.
    """
    with _file_errors(path):
        fd = open_within(root, path, mode="read")
        try:
            size = os.fstat(fd).st_size
            data = _read_head(fd, max_bytes)
        finally:
            os.close(fd)
    truncated = len(data) > max_bytes
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    # Not final when cut: a character split at the cut is dropped, not replaced.
    text = decoder.decode(data[:max_bytes], final=not truncated)
    if not truncated:
        return text
    total = max(size, len(data))
    return f"{text}\n[truncated: the file is {total:,} bytes; the first {max_bytes:,} are shown]"


def _occurrences(data: bytes, old: bytes) -> int:
    """How many places ``old`` occurs at in ``data``, overlapping ones included."""
    # ``old`` can overlap itself only if it is periodic: it occurs in old+old before len(old).
    if (old + old).find(old, 1) == len(old):
        return data.count(old)  # non-overlapping, in C, is then every place
    # "aa" in "aaa": bytes.count says 1, yet it picks two places.
    count = 0
    start = data.find(old)
    while start != -1:
        count += 1
        start = data.find(old, start + 1)
    return count


@tool(name="read_file", capability="fs.read")
async def read_file(path: str) -> str:
    """Read a text file in the workspace.

    Args:
        path: The file, relative to the workspace.

    Returns:
        The file's text (invalid UTF-8 replaced); a file over
        :data:`READ_MAX_BYTES` is cut, with a marker giving its full size.
    """
    return _read_text(current_tool_context().root, path, max_bytes=READ_MAX_BYTES)


@tool(name="write_file", capability="fs.write")
async def write_file(path: str, content: str) -> str:
    """Write a text file in the workspace, replacing it if it exists.

    Missing directories on the way are created. The write is atomic: the
    old file stays whole until the new one is complete.

    Args:
        path: The file, relative to the workspace.
        content: The file's new text.

    Returns:
        A confirmation giving the number of bytes written.
    """
    context = current_tool_context()
    data = _encode(content)
    with _file_errors(path):
        atomic_write(context.root, path, data, protected=context.protected, parents=True)
    return f"wrote {len(data):,} bytes to {path}"


@tool(name="edit_file", capability="fs.edit")
async def edit_file(path: str, old: str, new: str) -> str:
    """Replace one exact occurrence of a text in a file in the workspace.

    ``old`` must occur exactly once, whitespace and line endings included;
    otherwise nothing is changed and the error says how often it occurs. If
    the file changes between the read and the write, nothing is written and
    the error says so: read the file again and retry.

    Args:
        path: The file, relative to the workspace.
        old: The exact text to replace; it must occur once.
        new: The text to put in its place.

    Returns:
        A confirmation giving the file's size before and after.
    """
    context = current_tool_context()
    if not old:
        raise EmptyOldText(path)
    with _file_errors(path):
        data, version = read_versioned(context.root, path, max_bytes=EDIT_MAX_BYTES)
    before = _encode(old)
    count = _occurrences(data, before)
    if count == 0:
        raise OldTextNotFound(path)
    if count > 1:
        raise OldTextAmbiguous(path, count)
    updated = data.replace(before, _encode(new), 1)
    with _file_errors(path):
        atomic_write(context.root, path, updated, protected=context.protected, expect=version)
    return f"edited {path}: replaced 1 occurrence ({len(data):,} -> {len(updated):,} bytes)"
