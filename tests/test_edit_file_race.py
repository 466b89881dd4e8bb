"""``edit_file`` against a concurrent writer: a compare-and-swap, not a lost update (B-11).

The race is made deterministic by injection, never by sleeping: the other
writer's change runs at a chosen point of the edit, either right after the
read (``_fs.read_versioned`` wrapped: the check before the temporary file is
written must catch it) or right before the last check (``_fsopen._recheck``
wrapped: the temporary file already exists, and must be removed). The path
rules still hold at the re-check (PT-02, PT-06, PT-11).
"""

from __future__ import annotations

import errno
import os
import pickle
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from actrio.agents._tool_calls import error_text
from actrio.policy import _fsopen
from actrio.policy._fsopen import FileChanged, FileVersion, read_versioned
from actrio.policy.paths import PathEscape, SpecialFile, atomic_write, read_within
from actrio.tools import ToolError
from actrio.tools._context import ToolContext, tool_context
from actrio.tools.official import FileToolError, PathRefused, _fs, edit_file, write_file
from actrio.tools.official._fs import FileChangedDuringEdit

ORIGINAL = b"alpha\nbeta\ngamma\n"
EDITED = b"alpha\nBETA!\ngamma\n"
ADDED = b"and a line another writer added\n"
SECRET = b"outside secret\n"

Interfere = Callable[[Path], None]


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    """A workspace holding ``f.txt``, next to ``outside/secret.txt``."""
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_bytes(SECRET)
    root = tmp_path / "proj"
    root.mkdir()
    (root / "f.txt").write_bytes(ORIGINAL)
    return root


async def edit(root: Path, old: str = "beta", new: str = "BETA!") -> Any:
    """Run ``edit_file`` as the runtime would, on ``f.txt``."""
    with tool_context(ToolContext(workspace=root)):
        return await edit_file.run({"path": "f.txt", "old": old, "new": new})


def names(directory: Path) -> list[str]:
    """Every name in ``directory``: a leftover ``.~*.tmp`` shows up here."""
    return sorted(p.name for p in directory.iterdir())


def temp_files(directory: Path) -> list[str]:
    return [n for n in names(directory) if n.startswith(".~") and n.endswith(".tmp")]


def inject(monkeypatch: pytest.MonkeyPatch, when: str, interfere: Interfere, root: Path) -> None:
    """Run ``interfere(root / "f.txt")`` after the read ("early") or before the re-check."""
    if when == "early":
        real_read = read_versioned

        def read_then_interfere(*args: Any, **kwargs: Any) -> tuple[bytes, FileVersion]:
            result = real_read(*args, **kwargs)
            interfere(root / "f.txt")
            return result

        monkeypatch.setattr(_fs, "read_versioned", read_then_interfere)
        return
    real_recheck = _fsopen._recheck

    def interfere_then_recheck(dfd: int, name: str, expect: FileVersion, text: str) -> None:
        assert len(temp_files(root)) == 1  # the new contents wait, fsynced, beside the file
        interfere(root / "f.txt")
        real_recheck(dfd, name, expect, text)

    monkeypatch.setattr(_fsopen, "_recheck", interfere_then_recheck)


# ---------------------------------------------------------------- the other writers


def rewrite_in_place(target: Path) -> None:
    target.write_bytes(ORIGINAL + ADDED)


def same_size_same_mtime(target: Path) -> None:
    """Same length, other bytes, mtime set back: size and mtime alone would miss it."""
    before = target.stat()
    target.write_bytes(ORIGINAL.replace(b"gamma", b"GAMMA"))
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = target.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def replace_with_another_file(target: Path) -> None:
    """A new inode at the name, even with the very same bytes (an editor's atomic save)."""
    fresh = target.with_name("f.txt.editor-save")
    fresh.write_bytes(ORIGINAL)
    os.replace(fresh, target)


def delete(target: Path) -> None:
    target.unlink()


CHANGES: dict[str, tuple[Interfere, bytes | None, tuple[str, ...]]] = {
    # name: (the other writer, what it leaves at f.txt, what the error may say)
    "in-place": (rewrite_in_place, ORIGINAL + ADDED, ("modified since it was read",)),
    "same-size-same-mtime": (same_size_same_mtime, ORIGINAL.replace(b"gamma", b"GAMMA"), ()),
    "new-inode": (replace_with_another_file, ORIGINAL, ("replaced by another file",)),
    "deleted": (delete, None, ("deleted or renamed",)),
}


@pytest.mark.parametrize("when", ["early", "late"])
@pytest.mark.parametrize("change", list(CHANGES))
async def test_b11_concurrent_change_is_refused_and_survives(
    proj: Path, monkeypatch: pytest.MonkeyPatch, change: str, when: str
) -> None:
    """B-11: a change between read and write is refused; the other writer's bytes survive."""
    interfere, survivor, says = CHANGES[change]
    inject(monkeypatch, when, interfere, proj)
    with pytest.raises(FileChangedDuringEdit) as caught:
        await edit(proj)
    error = caught.value
    assert isinstance(error.__cause__, FileChanged)
    assert error.errno == errno.ESTALE
    assert error.path == "f.txt"
    assert str(error).startswith("'f.txt': the file")
    assert "nothing was written" in str(error)
    assert all(s in str(error) for s in says)
    if survivor is None:
        assert names(proj) == []
    else:
        assert names(proj) == ["f.txt"]  # no temporary file left either
        assert (proj / "f.txt").read_bytes() == survivor


async def test_b11_same_tick_write_is_caught_by_the_content_digest(
    proj: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file system whose timestamps did not move: only the SHA-256 can tell.

    Simulated by making the re-check's ``fstat`` and ``lstat`` report the
    stat recorded before the edit, as a coarse clock (one tick) and a
    same-size write would; a grown file whose stat hides the growth too.
    """
    target = proj / "f.txt"
    recorded = target.stat()
    real_fstat, real_lstat_at = os.fstat, _fsopen._lstat_at

    def frozen_fstat(fd: int) -> os.stat_result:
        st = real_fstat(fd)
        return recorded if (st.st_dev, st.st_ino) == (recorded.st_dev, recorded.st_ino) else st

    def frozen_lstat_at(dfd: int, name: str) -> os.stat_result | None:
        return recorded if name == "f.txt" else real_lstat_at(dfd, name)

    for sneaky in (ORIGINAL.replace(b"alpha", b"ALPHA"), ORIGINAL + b"grown\n"):

        def write_with_frozen_stat(path: Path, data: bytes = sneaky) -> None:
            with path.open("r+b") as file:  # in place: same inode
                file.write(data)
            monkeypatch.setattr(os, "fstat", frozen_fstat)
            monkeypatch.setattr(_fsopen, "_lstat_at", frozen_lstat_at)

        inject(monkeypatch, "late", write_with_frozen_stat, proj)
        with pytest.raises(FileChangedDuringEdit, match="content changed"):
            await edit(proj)
        monkeypatch.undo()
        assert target.read_bytes() == sneaky
        assert names(proj) == ["f.txt"]
        target.write_bytes(ORIGINAL)
        recorded = target.stat()


async def test_b11_file_renamed_over_the_name_during_the_content_check(
    proj: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last look is an ``lstat`` of the name: a swap while the old inode was hashed."""
    real_digest = _fsopen._digest

    def digest_then_swap(fd: int, size: int) -> bytes:
        digest = real_digest(fd, size)
        replace_with_another_file(proj / "f.txt")
        return digest

    monkeypatch.setattr(_fsopen, "_digest", digest_then_swap)
    with pytest.raises(FileChangedDuringEdit, match="replaced by another file"):
        await edit(proj)
    assert names(proj) == ["f.txt"]
    assert (proj / "f.txt").read_bytes() == ORIGINAL


async def test_b11_in_place_write_after_the_content_check_is_caught_by_ctime(
    proj: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same size, mtime set back, after the hash: only ``st_ctime_ns`` (unsettable) moved."""
    target = proj / "f.txt"
    real_digest = _fsopen._digest
    recorded = target.stat()

    def digest_then_sneak(fd: int, size: int) -> bytes:
        digest = real_digest(fd, size)
        same_size_same_mtime(target)
        if target.stat().st_ctime_ns == recorded.st_ctime_ns:  # coarse clocks
            pytest.skip("coarse timestamps: the write fell in the file's last tick (documented)")
        return digest

    monkeypatch.setattr(_fsopen, "_digest", digest_then_sneak)
    with pytest.raises(FileChangedDuringEdit, match="modified since it was read"):
        await edit(proj)
    assert target.read_bytes() == ORIGINAL.replace(b"gamma", b"GAMMA")
    assert names(proj) == ["f.txt"]


async def test_b11_real_process_writing_between_read_and_write(
    proj: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process (not this one) does the sneaky same-size write, then set mtime back."""
    writer = (
        "import os, sys\n"
        "st = os.stat(sys.argv[1])\n"
        "with open(sys.argv[1], 'r+b') as f:\n"
        "    f.write(b'ALPHA')\n"
        "os.utime(sys.argv[1], ns=(st.st_atime_ns, st.st_mtime_ns))\n"
    )

    def other_process(target: Path) -> None:
        subprocess.run([sys.executable, "-c", writer, str(target)], check=True, timeout=30)

    inject(monkeypatch, "late", other_process, proj)
    with pytest.raises(FileChangedDuringEdit):
        await edit(proj)
    assert (proj / "f.txt").read_bytes() == ORIGINAL.replace(b"alpha", b"ALPHA")
    assert names(proj) == ["f.txt"]


# ---------------------------------------------------------------- the path rules still hold


def swap_in_link_to_outside(target: Path) -> None:
    link = target.with_name("f.txt.link")
    link.symlink_to(target.parent.parent / "outside" / "secret.txt")
    os.replace(link, target)


def swap_in_fifo(target: Path) -> None:
    target.unlink()
    os.mkfifo(target)


@pytest.mark.parametrize("when", ["early", "late"])
async def test_pt02_pt06_link_swapped_in_is_refused_by_the_path_rules(
    proj: Path, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    """PT-02/PT-06: a link to outside swapped in at the name is refused, never followed."""
    inject(monkeypatch, when, swap_in_link_to_outside, proj)
    with pytest.raises(PathRefused) as caught:
        await edit(proj)
    assert isinstance(caught.value.__cause__, PathEscape)
    assert (proj / "f.txt").is_symlink()
    assert names(proj) == ["f.txt"]
    assert (proj.parent / "outside" / "secret.txt").read_bytes() == SECRET
    assert names(proj.parent / "outside") == ["secret.txt"]


async def test_pt11_fifo_swapped_in_is_refused_without_hanging(
    proj: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inject(monkeypatch, "late", swap_in_fifo, proj)
    with pytest.raises(PathRefused) as caught:
        await edit(proj)
    assert isinstance(caught.value.__cause__, SpecialFile)
    assert stat.S_ISFIFO((proj / "f.txt").lstat().st_mode)
    assert names(proj) == ["f.txt"]


# ---------------------------------------------------------------- what still works, and the limit


async def test_b11_edit_without_a_race_still_works(proj: Path) -> None:
    (proj / "f.txt").chmod(0o640)
    reply = await edit(proj)
    assert reply == "edited f.txt: replaced 1 occurrence (17 -> 18 bytes)"
    assert (proj / "f.txt").read_bytes() == EDITED
    assert stat.S_IMODE((proj / "f.txt").stat().st_mode) == 0o640
    assert names(proj) == ["f.txt"]


async def test_b11_refused_edit_succeeds_once_read_again(
    proj: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the error tells the model to do works: the retry sees the other writer's line."""
    inject(monkeypatch, "late", rewrite_in_place, proj)
    with pytest.raises(FileChangedDuringEdit) as caught:
        await edit(proj)
    monkeypatch.undo()
    told = error_text(caught.value)
    assert told.startswith("Error: 'f.txt': the file was modified since it was read")
    assert told.endswith("nothing was written. Read the file again and redo the edit")
    await edit(proj)
    assert (proj / "f.txt").read_bytes() == EDITED + ADDED


async def test_b11_writer_after_the_last_check_is_still_lost_pinned(
    proj: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pinned residual risk: POSIX has no compare-and-rename; a write after the check is lost.

    The window is the last ``lstat`` to the rename (documented in ``atomic_write``).
    """
    real_replace = os.replace

    def interfere_then_replace(*args: Any, **kwargs: Any) -> None:
        rewrite_in_place(proj / "f.txt")
        real_replace(*args, **kwargs)

    monkeypatch.setattr(os, "replace", interfere_then_replace)
    await edit(proj)
    monkeypatch.undo()
    assert (proj / "f.txt").read_bytes() == EDITED


async def test_write_file_stays_last_writer_wins(
    proj: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``write_file`` replaces the whole file: it never compares, so it never refuses."""

    def no_recheck(*args: object) -> None:
        raise AssertionError("write_file must not re-check")

    monkeypatch.setattr(_fsopen, "_recheck", no_recheck)
    with tool_context(ToolContext(workspace=proj)):
        await write_file.run({"path": "f.txt", "content": "whole new file\n"})
    assert (proj / "f.txt").read_bytes() == b"whole new file\n"


# ---------------------------------------------------------------- the pieces


def test_b11_error_is_a_typed_file_tool_error_and_pickles() -> None:
    error = FileChangedDuringEdit("a/f.txt", "the file was modified since it was read", 116)
    assert isinstance(error, FileToolError | ToolError | OSError)
    assert not isinstance(error, ValueError)  # old was fine; the file moved under it
    assert str(error) == (
        "'a/f.txt': the file was modified since it was read; nothing was written."
        " Read the file again and redo the edit"
    )
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is FileChangedDuringEdit
    assert (again.path, again.reason, again.errno) == ("a/f.txt", error.reason, 116)
    assert "FileChangedDuringEdit" in _fs.__all__


def test_b11_read_versioned_records_what_it_read(proj: Path) -> None:
    data, version = read_versioned(proj, "f.txt", max_bytes=100)
    st = (proj / "f.txt").stat()
    assert data == read_within(proj, "f.txt", max_bytes=100) == ORIGINAL
    assert version == FileVersion.of(st, ORIGINAL)
    assert (version.dev, version.ino, version.size) == (st.st_dev, st.st_ino, len(ORIGINAL))
    assert (version.mtime_ns, version.ctime_ns) == (st.st_mtime_ns, st.st_ctime_ns)
    assert version.sha256.hex() in repr(version)
    with pytest.raises(ValueError, match="max_bytes"):
        read_versioned(proj, "f.txt", max_bytes=-1)


def test_b11_atomic_write_expect_is_a_compare_and_swap(proj: Path) -> None:
    _, version = read_versioned(proj, "f.txt", max_bytes=100)
    atomic_write(proj, "f.txt", b"v2", expect=version)
    assert (proj / "f.txt").read_bytes() == b"v2"
    # The version is stale now: the write above changed the file.
    with pytest.raises(FileChanged, match="replaced by another file") as caught:
        atomic_write(proj, "f.txt", b"v3", expect=version)
    assert (caught.value.errno, caught.value.filename) == (errno.ESTALE, "f.txt")
    # Expecting a file that is not there never creates it.
    with pytest.raises(FileChanged, match="deleted or renamed"):
        atomic_write(proj, "gone.txt", b"v3", expect=version)
    assert names(proj) == ["f.txt"]
    assert (proj / "f.txt").read_bytes() == b"v2"
