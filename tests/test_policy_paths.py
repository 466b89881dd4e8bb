"""Symlink-safe paths: PolicyPath checks and the safe opener (RELIABILITY.md 4b, PT-01 … PT-11).

Every case runs on a real temporary tree with real symbolic links. The tree
(built by the ``tree`` fixture)::

    base/
      proj/                   the workspace (root and cwd)
        a.txt, sub/file.txt
        link   -> base/outside/bashrc        PT-02 link to an outside file
        d      -> base/etc                   PT-04 directory link out
        new    -> ../outside/new             PT-03 dangling, outside
        newin  -> sub/missing                dangling, pointing inside
        inlink -> sub/file.txt               a link that stays inside
        subln  -> sub                        a directory link that stays inside
        .git/config, .git/hooks/
      proj-evil/x                            PT-01 prefix sibling
      outside/bashrc, outside/shared.txt
      etc/passwd
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from actrio.policy import _fsopen, paths
from actrio.policy.paths import (
    DEFAULT_PROTECTED,
    FileTooLarge,
    HardLinkRefused,
    InvalidPath,
    PathDenied,
    PathEscape,
    PathResolutionError,
    PolicyPath,
    ProtectedPath,
    SpecialFile,
    atomic_write,
    open_within,
    read_within,
)
from actrio.testing._path_strategies import (
    SKELETON,
    Entry,
    PathAttack,
    SymlinkTree,
    materialize,
    path_attacks,
    relative_paths,
    symlink_trees,
)

if TYPE_CHECKING:
    from collections.abc import Callable

CYR_I = "\u0456"  # Cyrillic small letter i, looks like "i"
CYR_A = "\u0430"  # Cyrillic small letter a
CYR_SHHA = "\u04bb"  # Cyrillic small letter shha, looks like "h"


@attrs.frozen
class Tree:
    base: Path
    proj: Path
    outside: Path

    def pp(self, raw: str, **options: object) -> PolicyPath:
        return PolicyPath.of(raw, cwd=self.proj, **options)  # type: ignore[arg-type]

    def snapshot(self) -> dict[str, bytes]:
        """Every regular file outside the workspace, with its contents."""
        found: dict[str, bytes] = {}
        for top in ("outside", "etc", "proj-evil"):
            for dirpath, _dirs, files in os.walk(self.base / top):
                for name in files:
                    found[os.path.join(dirpath, name)] = Path(dirpath, name).read_bytes()
        return found


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    base = Path(os.path.realpath(tmp_path))
    proj, outside, etc = base / "proj", base / "outside", base / "etc"
    for directory in (proj / "sub", proj / ".git" / "hooks", outside, etc, base / "proj-evil"):
        directory.mkdir(parents=True)
    (proj / "a.txt").write_bytes(b"inside")
    (proj / "sub" / "file.txt").write_bytes(b"sub file")
    (proj / ".git" / "config").write_bytes(b"[core]")
    (outside / "bashrc").write_bytes(b"BASHRC")
    (outside / "shared.txt").write_bytes(b"SHARED")
    (etc / "passwd").write_bytes(b"root:x:0:0")
    (base / "proj-evil" / "x").write_bytes(b"evil")
    (proj / "link").symlink_to(outside / "bashrc")
    (proj / "d").symlink_to(etc)
    (proj / "new").symlink_to("../outside/new")
    (proj / "newin").symlink_to("sub/missing")
    (proj / "inlink").symlink_to("sub/file.txt")
    (proj / "subln").symlink_to("sub")
    return Tree(base, proj, outside)


def _write(root: Path, raw: str, data: bytes = b"AGENT", **options: object) -> None:
    fd = open_within(root, raw, mode="write", **options)  # type: ignore[arg-type]
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


# ----------------------------------------------------------------------------- PT-01

PT01 = [
    pytest.param("../etc/passwd", id="PT-01 ../etc/passwd"),
    pytest.param("sub/../../x", id="PT-01 sub/../../x"),
    pytest.param("/etc/passwd", id="PT-01 /etc/passwd"),
    pytest.param("{base}/etc/passwd", id="PT-01 absolute outside file"),
    pytest.param("//etc", id="PT-01 //etc"),
    pytest.param("{base}/proj-evil/x", id="PT-01 /w/proj-evil/x"),
    pytest.param("{base}/proj/./../x", id="PT-01 /w/proj/./../x"),
]


@pytest.mark.parametrize("raw", PT01)
def test_pt01_traversal_and_prefix_are_outside(tree: Tree, raw: str) -> None:
    text = raw.format(base=tree.base)
    path = tree.pp(text)
    assert not path.within(tree.proj)
    before = tree.snapshot()
    with pytest.raises(PathEscape):
        _write(tree.proj, text)
    with pytest.raises(PathEscape):
        atomic_write(tree.proj, text, b"AGENT")
    with pytest.raises(PathEscape):
        read_within(tree.proj, text, max_bytes=100)
    assert tree.snapshot() == before


def test_pt01_prefix_sibling_is_a_string_prefix_but_not_within(tree: Tree) -> None:
    evil = f"{tree.base}/proj-evil/x"
    assert evil.startswith(str(tree.proj))  # the naive check would allow it
    assert not tree.pp(evil).within(tree.proj)
    assert tree.pp(evil).within(tree.base)


def test_pt01_double_slash_is_root(tree: Tree) -> None:
    assert tree.pp("//etc").resolve() == Path("/etc")
    assert tree.pp(f"/{tree.proj}//a.txt").within(tree.proj)
    assert tree.pp("/../../etc").resolve() == Path("/etc")


def test_pt01_tilde_is_a_literal_name_for_check_and_opener(tree: Tree) -> None:
    """Decision: ~ is never expanded; the check and the opener agree on proj/~/..."""
    path = tree.pp("~/.ssh/id_rsa")
    assert path.within(tree.proj)
    assert path.resolve() == tree.proj / "~" / ".ssh" / "id_rsa"
    assert path.starts_with("~")  # how a policy refuses it anyway
    _write(tree.proj, "~/.ssh/id_rsa", b"key", parents=True)
    assert (tree.proj / "~" / ".ssh" / "id_rsa").read_bytes() == b"key"


def test_pt01_dotdot_inside_the_root_is_fine(tree: Tree) -> None:
    assert tree.pp("sub/../a.txt").within(tree.proj)
    assert read_within(tree.proj, "sub/../a.txt", max_bytes=100) == b"inside"
    assert read_within(tree.proj, f"{tree.proj}/sub/../a.txt", max_bytes=100) == b"inside"


# ----------------------------------------------------------------------------- PT-02


def test_pt02_symlink_to_outside_file(tree: Tree) -> None:
    path = tree.pp("link")
    assert not path.within(tree.proj)
    # A deny rule on the target triggers through the link.
    assert path.within(tree.outside)
    assert path.eq(tree.outside / "bashrc")
    assert path.reaches(tree.outside)
    before = tree.snapshot()
    for attempt in (
        lambda: read_within(tree.proj, "link", max_bytes=100),
        lambda: _write(tree.proj, "link"),
        lambda: os.close(open_within(tree.proj, "link", mode="replace")),
        lambda: os.close(open_within(tree.proj, "link", mode="create")),
        lambda: atomic_write(tree.proj, "link", b"AGENT"),
    ):
        with pytest.raises(PathEscape, match="'link' is a symbolic link"):
            attempt()
    assert tree.snapshot() == before
    assert (tree.proj / "link").is_symlink()


# ----------------------------------------------------------------------------- PT-03


def test_pt03_dangling_symlink_write_is_denied(tree: Tree) -> None:
    path = tree.pp("new")
    assert not path.within(tree.proj)
    assert not path.exists()
    assert path.reaches(tree.outside)  # where it would land
    assert path.resolve() == tree.outside / "new"
    for mode in ("write", "create", "replace"):
        with pytest.raises(PathEscape):
            os.close(open_within(tree.proj, "new", mode=mode))  # type: ignore[arg-type]
    with pytest.raises(PathEscape):
        atomic_write(tree.proj, "new", b"AGENT")
    assert not (tree.outside / "new").exists()


def test_pt03_dangling_link_into_the_root_is_outside_too(tree: Tree) -> None:
    """Decision: any dangling link makes within() False, even one pointing inside."""
    path = tree.pp("newin")
    assert not path.within(tree.proj)
    assert path.reaches(tree.proj)
    assert path.eq("sub/missing")


def test_pt03_missing_tail_without_links_is_within(tree: Tree) -> None:
    path = tree.pp("brand/new/file.txt")
    assert path.within(tree.proj)
    assert not path.exists()
    _write(tree.proj, "brand/new/file.txt", parents=True)
    assert (tree.proj / "brand" / "new" / "file.txt").read_bytes() == b"AGENT"


def test_pt03_dangling_link_in_a_middle_component(tree: Tree) -> None:
    (tree.proj / "gone").symlink_to("vanished-dir")
    assert not tree.pp("gone/x").within(tree.proj)
    assert tree.pp("gone/x").reaches(tree.proj)


# ----------------------------------------------------------------------------- PT-04


@pytest.mark.parametrize("raw", ["d/x", "d/passwd", "d/../proj/a.txt"])
def test_pt04_symlinked_directory_component(tree: Tree, raw: str) -> None:
    assert tree.pp("d/passwd").within(tree.base / "etc")
    before = tree.snapshot()
    if raw != "d/../proj/a.txt":
        assert not tree.pp(raw).within(tree.proj)
    with pytest.raises(PathEscape, match="'d' is a symbolic link"):
        _write(tree.proj, raw, parents=True)
    with pytest.raises(PathEscape):
        atomic_write(tree.proj, raw, b"AGENT", parents=True)
    with pytest.raises(PathEscape):
        read_within(tree.proj, raw, max_bytes=100)
    assert tree.snapshot() == before
    assert not (tree.base / "etc" / "x").exists()


def test_pt04_dotdot_after_a_link_applies_to_the_target(tree: Tree) -> None:
    """d/../proj/a.txt: .. is taken in base/etc's parent, as the kernel does."""
    path = tree.pp("d/../proj/a.txt")
    assert path.resolve() == tree.proj / "a.txt"
    assert path.within(tree.proj)
    assert not tree.pp("d/../outside/bashrc").within(tree.proj)


def test_links_inside_the_root_pass_the_check_but_not_the_opener(tree: Tree) -> None:
    """Decision: within() follows in-root links; the safe opener refuses every link."""
    assert tree.pp("inlink").within(tree.proj)
    assert tree.pp("subln/file.txt").within(tree.proj)
    assert tree.pp("inlink").eq("sub/file.txt")
    with pytest.raises(PathEscape):
        read_within(tree.proj, "inlink", max_bytes=100)
    with pytest.raises(PathEscape):
        _write(tree.proj, "subln/file.txt")


# ----------------------------------------------------------------------------- PT-05


@pytest.fixture
def hardlink(tree: Tree) -> Path:
    target = tree.proj / "hl"
    os.link(tree.outside / "shared.txt", target)
    return target


def test_pt05_hard_link_is_reported_and_refused_for_writes(tree: Tree, hardlink: Path) -> None:
    path = tree.pp("hl")
    assert path.link_count() == 2
    assert path.within(tree.proj)  # a hard link is invisible to path resolution
    assert tree.pp("a.txt").link_count() == 1
    assert tree.pp("missing").link_count() == 0
    assert read_within(tree.proj, "hl", max_bytes=100) == b"SHARED"  # reads are allowed
    for mode in ("write", "replace"):
        with pytest.raises(HardLinkRefused, match="2 hard links"):
            os.close(open_within(tree.proj, "hl", mode=mode))  # type: ignore[arg-type]
    with pytest.raises(HardLinkRefused):
        atomic_write(tree.proj, "hl", b"AGENT")
    assert (tree.outside / "shared.txt").read_bytes() == b"SHARED"


def test_pt05_allow_hardlinks_writes_through_in_place(tree: Tree, hardlink: Path) -> None:
    """Codex's behaviour, opt-in: writing in place changes every name of the inode."""
    _write(tree.proj, "hl", b"THROUGH", allow_hardlinks=True)
    assert (tree.outside / "shared.txt").read_bytes() == b"THROUGH"


def test_pt05_allow_hardlinks_atomic_write_detaches_the_name(tree: Tree, hardlink: Path) -> None:
    atomic_write(tree.proj, "hl", b"NEW", allow_hardlinks=True)
    assert hardlink.read_bytes() == b"NEW"
    assert (tree.outside / "shared.txt").read_bytes() == b"SHARED"
    assert tree.pp("hl").link_count() == 1


# ----------------------------------------------------------------------------- PT-06


def _race(flip: Callable[[int], None], write: Callable[[], None]) -> dict[str, int]:
    """Run ``flip(i)`` 2,000 times in one thread while another thread keeps writing."""
    outcomes = {"written": 0, "refused": 0, "other": 0}
    done = [False]

    def racer() -> None:
        try:
            for i in range(2000):
                flip(i)
        finally:
            done[0] = True

    def writer() -> None:
        while not done[0]:
            try:
                write()
                outcomes["written"] += 1
            except PathDenied:
                outcomes["refused"] += 1
            except OSError:  # e.g. the name is missing for a moment
                outcomes["other"] += 1

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio.to_thread.run_sync, writer)
            nursery.start_soon(trio.to_thread.run_sync, racer)

    trio.run(main)
    return outcomes


def _alternating_writes(root: Path, raw: str) -> Callable[[], None]:
    count = [0]

    def write() -> None:
        count[0] += 1
        if count[0] % 2:
            atomic_write(root, raw, b"AGENT")
        else:
            _write(root, raw)

    return write


@pytest.fixture
def no_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    """Durability is not what the race checks; fsync would only slow the writer down."""
    monkeypatch.setattr(os, "fsync", lambda fd: None)


@pytest.mark.usefixtures("no_fsync")
def test_pt06_toctou_swap_of_the_file_never_writes_outside(tree: Tree) -> None:
    """PT-06: proj/race.txt flips between a file and a link to the outside bashrc."""
    spot, link, real = tree.proj / "race.txt", tree.proj / "racer.lnk", tree.proj / "racer.new"
    spot.write_bytes(b"real")
    before = tree.snapshot()

    def flip(i: int) -> None:
        if i % 2:
            link.symlink_to(tree.outside / "bashrc")
            os.replace(link, spot)
        else:
            real.touch()  # empty: ext4 flushes data renamed over a file, which is slow
            os.replace(real, spot)

    # Both states, deterministically first: the link is refused, the file written.
    flip(1)
    with pytest.raises(PathDenied):
        _write(tree.proj, "race.txt")
    flip(0)
    _write(tree.proj, "race.txt")
    spot.write_bytes(b"real")
    outcomes = _race(flip, _alternating_writes(tree.proj, "race.txt"))
    assert tree.snapshot() == before
    assert (tree.outside / "bashrc").read_bytes() == b"BASHRC"
    # Whether the writer met the link mid-race depends on the scheduler (on a
    # loaded machine it may not), so only the writes landing is required here.
    assert outcomes["written"] > 0, outcomes


@pytest.mark.usefixtures("no_fsync")
def test_pt06_toctou_swap_of_a_directory_never_writes_outside(tree: Tree) -> None:
    """PT-06 + PT-04: proj/racedir flips between a directory and a link to outside/."""
    spot, link, parked = tree.proj / "racedir", tree.proj / "racer.lnk", tree.proj / "parked"
    spot.mkdir()
    before = tree.snapshot()

    def flip(i: int) -> None:
        if i % 2 == 0:
            os.rename(spot, parked)
            link.symlink_to(tree.outside)
            os.replace(link, spot)
        else:
            os.unlink(spot)
            os.rename(parked, spot)

    outcomes = _race(flip, _alternating_writes(tree.proj, "racedir/bashrc"))
    assert tree.snapshot() == before
    assert sum(outcomes.values()) > 10, outcomes


# ----------------------------------------------------------------------------- PT-07


def test_pt07_case_is_exact_on_a_case_sensitive_fs(tree: Tree) -> None:
    (tree.proj / ".ENV").write_bytes(b"X")
    path = tree.pp(".ENV")
    assert not path.name_matches(".env")  # .ENV is another file on ext4
    assert not tree.pp("X.PY").name_matches("*.py")  # allow rules must not over-match
    assert path.name_matches(".E*")
    assert path.mentions(".env")  # the loose deny-side matcher catches it


def test_pt07_case_insensitive_option_folds_names(tree: Tree) -> None:
    path = tree.pp(".ENV", case_insensitive=True)
    assert path.name_matches(".env")
    assert tree.pp("x", case_insensitive=True).within(str(tree.proj).upper())
    assert not tree.pp("x").within(str(tree.proj).upper())
    assert tree.pp("A.TXT", case_insensitive=True).eq("a.txt")


def test_pt07_nfc_and_nfd_are_different_names_on_ext4(tree: Tree) -> None:
    nfc, nfd = "caf\u00e9", "cafe\u0301"
    (tree.proj / nfc).mkdir()
    assert not (tree.proj / nfd).exists()  # the file system itself tells them apart
    assert not tree.pp(f"{nfd}/x").eq(f"{nfc}/x")
    assert not tree.pp(nfd).name_matches(nfc)
    assert tree.pp(f"{nfd}/x", case_insensitive=True).eq(f"{nfc}/x")
    assert tree.pp(nfd, case_insensitive=True).name_matches(nfc)


def test_pt07_cyrillic_lookalikes_in_protected_names(tree: Tree) -> None:
    ssh = f".ss{CYR_SHHA}/id_rsa"
    assert tree.pp(ssh, protected=(".ssh",)).is_protected()
    assert tree.pp(ssh).has_confusables()
    git = f".g{CYR_I}t/config"
    assert tree.pp(git).is_protected()
    with pytest.raises(ProtectedPath, match="is protected"):
        _write(tree.proj, git, parents=True)
    assert not (tree.proj / f".g{CYR_I}t").exists()


@pytest.mark.parametrize(
    ("name", "confusable"),
    [
        pytest.param(f"p{CYR_A}ssword.txt", True, id="mixed Latin and Cyrillic"),
        pytest.param("\uff47it", True, id="fullwidth g"),
        pytest.param(".g\u200bit", True, id="zero-width space"),
        pytest.param("\u043e\u0442\u0447\u0451\u0442.txt", False, id="all Cyrillic"),
        pytest.param("caf\u00e9", False, id="accented Latin"),
        pytest.param(f"{CYR_SHHA}.txt", True, id="whole-script look-alike"),
        pytest.param("\u0455\u0455\u04bb", True, id="Cyrillic ssh"),
        pytest.param("plain.txt", False, id="ASCII"),
    ],
)
def test_pt07_has_confusables(tree: Tree, name: str, confusable: bool) -> None:
    assert tree.pp(name).has_confusables() is confusable


def test_pt07_invisible_and_fullwidth_protected_names(tree: Tree) -> None:
    assert tree.pp(".g\u200bit/config").is_protected()
    assert tree.pp("\uff0egit/config").is_protected()
    assert tree.pp(".GIT/config").is_protected()


# ----------------------------------------------------------------------------- PT-08


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(".git/config", id="PT-08 .git/config"),
        pytest.param(".git/hooks/pre-commit", id="PT-08 missing .git/hooks/pre-commit"),
        pytest.param(".actrio/policy.toml", id="PT-08 missing .actrio/policy.toml"),
        pytest.param("sub/../.git/HEAD", id="PT-08 sub/../.git/HEAD"),
    ],
)
def test_pt08_protected_paths_in_a_writable_root(tree: Tree, raw: str) -> None:
    path = tree.pp(raw)
    assert path.within(tree.proj)
    assert path.is_protected()
    existed = (tree.proj / raw).exists()
    for mode in ("write", "create", "replace"):
        with pytest.raises(ProtectedPath):
            os.close(open_within(tree.proj, raw, mode=mode, parents=True))  # type: ignore[arg-type]
    with pytest.raises(ProtectedPath):
        atomic_write(tree.proj, raw, b"AGENT", parents=True)
    assert (tree.proj / raw).exists() == existed
    assert not (tree.proj / ".actrio").exists()
    assert (tree.proj / ".git" / "config").read_bytes() == b"[core]"


def test_pt08_protected_is_read_only_not_hidden(tree: Tree) -> None:
    assert read_within(tree.proj, ".git/config", max_bytes=100) == b"[core]"


def test_pt08_link_to_a_protected_file_is_protected(tree: Tree) -> None:
    (tree.proj / "cfg").symlink_to(".git/config")
    (tree.proj / ".actrio").symlink_to(tree.outside)
    assert tree.pp("cfg").is_protected()
    assert tree.pp(".actrio/x").is_protected()  # the link's own name counts
    assert not tree.pp("a.txt").is_protected()


def test_pt08_configurable_protected_names(tree: Tree) -> None:
    assert tree.pp(".env", protected=(*DEFAULT_PROTECTED, ".env")).is_protected()
    assert not tree.pp(".env").is_protected()
    with pytest.raises(ProtectedPath):
        atomic_write(tree.proj, "sub/.ENV", b"x", protected=(".env",))


def test_pt08_gitdir_pointer_target_is_protected(tree: Tree) -> None:
    """A worktree's .git file names its git dir; writing into that dir is protected (CDX-4)."""
    repo = tree.base / "repo"
    (repo / "store" / "hooks").mkdir(parents=True)
    (repo / ".git").write_text("gitdir: store\n")
    assert PolicyPath.of("store/hooks/pre-commit", cwd=repo).is_protected()
    assert not PolicyPath.of("src/main.py", cwd=repo).is_protected()
    (repo / ".git").write_text("not a pointer")
    assert not PolicyPath.of("store/hooks/pre-commit", cwd=repo).is_protected()
    (repo / ".git").write_text("gitdir:   \n")
    assert not PolicyPath.of("store/x", cwd=repo).is_protected()
    (repo / ".git").write_bytes(b"gitdir: store\n" + b"#" * 5000)
    assert not PolicyPath.of("store/x", cwd=repo).is_protected()  # too big to be a pointer


def test_pt08_gitdir_errors_fail_closed(tree: Tree, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tree.base / "repo"
    repo.mkdir()
    (repo / ".git").write_text("gitdir: store\n")

    def no_open(*args: object, **kwargs: object) -> object:
        raise PermissionError(errno.EACCES, "denied")

    monkeypatch.setattr(paths, "open", no_open, raising=False)
    with pytest.raises(PathResolutionError) as info:
        PolicyPath.of("x", cwd=repo).is_protected()
    assert info.value.errno == errno.EACCES
    monkeypatch.undo()

    real_lstat = os.lstat

    def lstat(path: str) -> os.stat_result:
        if str(path).endswith("/.git"):
            raise PermissionError(errno.EACCES, "denied", path)
        return real_lstat(path)

    monkeypatch.setattr(os, "lstat", lstat)
    with pytest.raises(PathResolutionError):
        PolicyPath.of("x", cwd=repo).is_protected()


# ----------------------------------------------------------------------------- PT-11


@pytest.mark.parametrize(
    "raw",
    ["/proc/self/environ", "/proc/1/mem", "/dev/zero", "/dev/tcp/example.com/443", "/sys/kernel"],
)
def test_pt11_kernel_interfaces_are_special(tree: Tree, raw: str) -> None:
    assert tree.pp(raw).is_special()
    assert not tree.pp(raw).within(tree.proj)


def test_pt11_fifo_and_socket_are_special_and_refused(tree: Tree) -> None:
    os.mkfifo(tree.proj / "fifo")
    assert tree.pp("fifo").is_special()
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(tree.proj / "sock"))
        assert tree.pp("sock").is_special()
    assert not tree.pp("a.txt").is_special()
    assert not tree.pp("sub").is_special()
    assert not tree.pp("missing").is_special()
    assert not tree.pp("/").is_special()
    # Neither opening mode blocks on the FIFO (no reader, no writer).
    with pytest.raises(SpecialFile, match="not a regular file"):
        read_within(tree.proj, "fifo", max_bytes=10)
    with pytest.raises(SpecialFile):
        _write(tree.proj, "fifo")
    with pytest.raises(SpecialFile):
        atomic_write(tree.proj, "fifo", b"x")


@pytest.mark.parametrize("raw", ["proc/self/environ", "dev/zero", "sys/kernel/notes"])
def test_pt11_opener_refuses_kernel_interfaces_under_any_root(raw: str) -> None:
    with pytest.raises(SpecialFile, match="kernel interfaces"):
        read_within("/", raw, max_bytes=10)
    with pytest.raises(SpecialFile):
        read_within("/", "/" + raw, max_bytes=10)


def test_pt11_device_node_inside_the_root(tree: Tree) -> None:
    try:
        os.mknod(tree.proj / "null", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("no CAP_MKNOD here")
    assert tree.pp("null").is_special()
    with pytest.raises(SpecialFile):
        read_within(tree.proj, "null", max_bytes=10)


def test_pt11_special_swapped_in_after_the_look_is_caught_by_fstat(
    tree: Tree, monkeypatch: pytest.MonkeyPatch
) -> None:
    os.mkfifo(tree.proj / "fifo")
    monkeypatch.setattr(_fsopen, "_lstat_at", lambda dfd, name: None)  # the look saw nothing
    with pytest.raises(SpecialFile):
        read_within(tree.proj, "fifo", max_bytes=10)


# ----------------------------------------------------------------------------- B-10


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("", id="B-10 empty"),
        pytest.param("   ", id="B-10 spaces"),
        pytest.param("\t\n", id="B-10 whitespace"),
        pytest.param("a\0b", id="B-10 NUL"),
        pytest.param("\0", id="B-10 only NUL"),
    ],
)
def test_b10_nul_and_empty_paths_are_rejected(tree: Tree, raw: str) -> None:
    with pytest.raises(InvalidPath):
        tree.pp(raw)
    with pytest.raises(InvalidPath):
        open_within(tree.proj, raw, mode="read")
    with pytest.raises(InvalidPath):
        atomic_write(tree.proj, raw, b"x")
    with pytest.raises(InvalidPath):
        tree.pp("a.txt").within(raw)


def test_b10_error_names_the_nul_position(tree: Tree) -> None:
    with pytest.raises(InvalidPath, match="NUL byte at index 3"):
        tree.pp("abc\0")


def test_non_text_paths_are_type_errors(tree: Tree) -> None:
    with pytest.raises(TypeError, match="not bytes"):
        PolicyPath.of(b"a.txt", cwd=tree.proj)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not int"):
        PolicyPath.of(3, cwd=tree.proj)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not bytes"):
        open_within(tree.proj, b"a.txt", mode="read")  # type: ignore[arg-type]
    for method in ("starts_with", "contains", "name_matches", "mentions"):
        with pytest.raises(TypeError, match=method):
            getattr(tree.pp("a.txt"), method)(3)
    with pytest.raises(TypeError, match="within"):
        tree.pp("a.txt").within(3)  # type: ignore[arg-type]


def test_bad_construction_arguments(tree: Tree) -> None:
    with pytest.raises(InvalidPath, match="cwd 'rel' must be an absolute path"):
        PolicyPath.of("a", cwd="rel")
    with pytest.raises(InvalidPath, match="one path component"):
        tree.pp("a", protected=(".git/hooks",))
    with pytest.raises(InvalidPath, match="one path component"):
        tree.pp("a", protected=("..",))
    with pytest.raises(InvalidPath):
        tree.pp("a", protected=("",))
    with pytest.raises(TypeError, match="not one string"):
        tree.pp("a", protected=".git")
    with pytest.raises(ValueError, match="mode must be one of"):
        open_within(tree.proj, "a.txt", mode="append")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_bytes must be >= 0"):
        read_within(tree.proj, "a.txt", max_bytes=-1)


# ----------------------------------------------------------------------------- B-11


def _listing(directory: Path) -> set[str]:
    return set(os.listdir(directory))


def test_b11_crash_mid_write_keeps_the_old_file(
    tree: Tree, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _listing(tree.proj)

    def half_then_crash(fd: int, data: bytes) -> None:
        os.write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_fsopen, "_write_all", half_then_crash)
    with pytest.raises(OSError, match="No space left"):
        atomic_write(tree.proj, "a.txt", b"brand new contents")
    assert (tree.proj / "a.txt").read_bytes() == b"inside"
    assert _listing(tree.proj) == before


@pytest.mark.parametrize("fail", ["fsync", "replace"])
def test_b11_fsync_or_rename_failure_keeps_the_old_file(
    tree: Tree, monkeypatch: pytest.MonkeyPatch, fail: str
) -> None:
    before = _listing(tree.proj)

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EIO, f"injected {fail} failure")

    monkeypatch.setattr(os, fail, boom)
    with pytest.raises(OSError, match=f"injected {fail}"):
        atomic_write(tree.proj, "a.txt", b"brand new contents")
    monkeypatch.undo()
    assert (tree.proj / "a.txt").read_bytes() == b"inside"
    assert _listing(tree.proj) == before


def test_b11_crash_on_a_new_file_leaves_nothing(
    tree: Tree, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _listing(tree.proj / "sub")

    def crash(fd: int, data: bytes) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(_fsopen, "_write_all", crash)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(tree.proj, "sub/fresh.txt", b"x")
    assert _listing(tree.proj / "sub") == before


def test_atomic_write_replaces_and_keeps_the_mode(tree: Tree) -> None:
    target = tree.proj / "a.txt"
    target.chmod(0o640)
    atomic_write(tree.proj, "a.txt", b"v2")
    assert target.read_bytes() == b"v2"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    atomic_write(tree.proj, "sub/created.txt", b"v1" * 70000)
    assert (tree.proj / "sub" / "created.txt").read_bytes() == b"v1" * 70000
    atomic_write(tree.proj, "deep/er/x.txt", b"p", parents=True)
    assert (tree.proj / "deep" / "er" / "x.txt").read_bytes() == b"p"


def test_atomic_write_errors(tree: Tree, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(FileNotFoundError):
        atomic_write(tree.proj, "nodir/x.txt", b"p")
    with pytest.raises(IsADirectoryError):
        atomic_write(tree.proj, "sub", b"p")
    with pytest.raises(IsADirectoryError):
        atomic_write(tree.proj, "sub/", b"p")
    # Best-effort directory fsync: a failure there does not undo a done rename.
    real_fsync = os.fsync
    calls: list[int] = []

    def fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(errno.EINVAL, "no directory fsync here")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    atomic_write(tree.proj, "a.txt", b"v3")
    assert (tree.proj / "a.txt").read_bytes() == b"v3"
    assert len(calls) == 2


# ----------------------------------------------------------------------------- opener modes


def test_open_within_modes(tree: Tree) -> None:
    fd = open_within(tree.proj, "a.txt", mode="read")
    try:
        assert os.read(fd, 100) == b"inside"
        assert os.get_blocking(fd)
        assert os.get_inheritable(fd) is False
    finally:
        os.close(fd)
    _write(tree.proj, "a.txt", b"new")  # write truncates
    assert (tree.proj / "a.txt").read_bytes() == b"new"
    _write(tree.proj, "sub/made.txt", b"made")  # write creates
    assert (tree.proj / "sub" / "made.txt").read_bytes() == b"made"
    os.close(open_within(tree.proj, "fresh.txt", mode="create"))
    with pytest.raises(FileExistsError):
        open_within(tree.proj, "fresh.txt", mode="create")
    os.close(open_within(tree.proj, "a.txt", mode="replace"))
    assert (tree.proj / "a.txt").read_bytes() == b""
    with pytest.raises(FileNotFoundError):
        open_within(tree.proj, "absent.txt", mode="replace")
    with pytest.raises(FileNotFoundError):
        open_within(tree.proj, "nodir/x", mode="read", parents=True)  # never for reads


@pytest.mark.parametrize("raw", ["sub", "sub/", ".", "sub/..", "sub/.", "{proj}"])
def test_open_within_directories(tree: Tree, raw: str) -> None:
    with pytest.raises(IsADirectoryError):
        open_within(tree.proj, raw.format(proj=tree.proj), mode="read")


def test_open_within_other_errors(tree: Tree) -> None:
    with pytest.raises(NotADirectoryError):
        open_within(tree.proj, "a.txt/x", mode="read")
    with pytest.raises(FileNotFoundError):
        open_within(tree.base / "nope", "x", mode="read")
    (tree.base / "rootlink").symlink_to(tree.proj)
    with pytest.raises(PathEscape, match="root is a symbolic link"):
        open_within(tree.base / "rootlink", "a.txt", mode="read")
    # Spelling the path through the resolved root does not help: the root is refused.
    with pytest.raises(PathEscape, match="root is a symbolic link"):
        open_within(tree.base / "rootlink", f"{tree.proj}/a.txt", mode="read")


def test_open_within_accepts_the_resolved_spelling_of_the_root(tree: Tree) -> None:
    (tree.base / "alias").symlink_to(tree.base)
    aliased_root = tree.base / "alias" / "proj"
    assert read_within(aliased_root, f"{tree.proj}/a.txt", max_bytes=10) == b"inside"
    assert read_within(aliased_root, f"{aliased_root}/a.txt", max_bytes=10) == b"inside"


def test_open_within_parents_race_on_mkdir(tree: Tree, monkeypatch: pytest.MonkeyPatch) -> None:
    real_mkdir = os.mkdir

    def mkdir_lost_race(name: str, mode: int = 0o777, *, dir_fd: int | None = None) -> None:
        real_mkdir(name, mode, dir_fd=dir_fd)
        raise FileExistsError(errno.EEXIST, "someone else made it", name)

    monkeypatch.setattr(os, "mkdir", mkdir_lost_race)
    _write(tree.proj, "raced/x.txt", parents=True)
    assert (tree.proj / "raced" / "x.txt").read_bytes() == b"AGENT"


def test_open_within_link_swapped_in_after_the_look(
    tree: Tree, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lstat said 'nothing there'; O_NOFOLLOW still refuses the link it meets."""
    monkeypatch.setattr(_fsopen, "_lstat_at", lambda dfd, name: None)
    with pytest.raises(PathEscape):
        _write(tree.proj, "link")
    with pytest.raises(PathEscape):
        read_within(tree.proj, "new", max_bytes=10)
    assert (tree.outside / "bashrc").read_bytes() == b"BASHRC"


def test_open_within_unsupported_platform(tree: Tree, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_fsopen, "SUPPORTED", False)
    with pytest.raises(NotImplementedError, match="O_NOFOLLOW"):
        open_within(tree.proj, "a.txt", mode="read")


def test_is_link_at_tolerates_vanished_names(tree: Tree) -> None:
    dfd = os.open(tree.proj, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert _fsopen._is_link_at(dfd, "vanished") is False
        assert _fsopen._is_link_at(dfd, "link") is True
    finally:
        os.close(dfd)


def test_read_within_limits(tree: Tree, monkeypatch: pytest.MonkeyPatch) -> None:
    assert read_within(tree.proj, "a.txt", max_bytes=6) == b"inside"
    with pytest.raises(FileTooLarge, match="6 bytes, limit 5") as info:
        read_within(tree.proj, "a.txt", max_bytes=5)
    assert info.value.errno == errno.EFBIG
    (tree.proj / "empty").write_bytes(b"")
    assert read_within(tree.proj, "empty", max_bytes=0) == b""
    # A file that grows after fstat is still cut off at the limit.
    real_fstat = os.fstat

    def fstat_says_empty(fd: int) -> os.stat_result:
        values = list(real_fstat(fd))
        values[stat.ST_SIZE] = 0
        return os.stat_result(values)

    monkeypatch.setattr(os, "fstat", fstat_says_empty)
    with pytest.raises(FileTooLarge, match="over 3 bytes"):
        read_within(tree.proj, "a.txt", max_bytes=3)


# ----------------------------------------------------------------------------- resolution


def test_symlink_loop_raises_resolution_error(tree: Tree) -> None:
    """Decision: loops raise (the engine denies) rather than return False."""
    (tree.proj / "loop1").symlink_to("loop2")
    (tree.proj / "loop2").symlink_to("loop1")
    (tree.proj / "self").symlink_to("self")
    for raw in ("loop1", "self/x", "sub/../loop2"):
        with pytest.raises(PathResolutionError) as info:
            tree.pp(raw).within(tree.proj)
        assert info.value.errno == errno.ELOOP
    with pytest.raises(PathResolutionError):
        tree.pp("a.txt").within(tree.proj / "self")


def test_long_chain_below_the_limit_resolves(tree: Tree) -> None:
    previous = "a.txt"
    for i in range(paths.MAX_SYMLINKS):
        (tree.proj / f"c{i}").symlink_to(previous)
        previous = f"c{i}"
    assert tree.pp(f"c{paths.MAX_SYMLINKS - 1}").eq("a.txt")
    (tree.proj / "over").symlink_to(previous)
    with pytest.raises(PathResolutionError):
        tree.pp("over").exists()


def test_too_long_names_raise_resolution_error(tree: Tree) -> None:
    with pytest.raises(PathResolutionError) as info:
        tree.pp("x" * 300).within(tree.proj)
    assert info.value.errno == errno.ENAMETOOLONG
    with pytest.raises(PathResolutionError):
        tree.pp("a/" * 2100).within(tree.proj)


def test_permission_error_while_resolving(tree: Tree, monkeypatch: pytest.MonkeyPatch) -> None:
    real_lstat = os.lstat

    def lstat(path: str) -> os.stat_result:
        if str(path).endswith("/sub"):
            raise PermissionError(errno.EACCES, "denied", path)
        return real_lstat(path)

    monkeypatch.setattr(os, "lstat", lstat)
    with pytest.raises(PathResolutionError) as info:
        tree.pp("sub/file.txt").within(tree.proj)
    assert info.value.errno == errno.EACCES


def test_link_vanishing_between_lstat_and_readlink(
    tree: Tree, monkeypatch: pytest.MonkeyPatch
) -> None:
    def readlink(path: str) -> str:
        raise FileNotFoundError(errno.ENOENT, "gone", path)

    monkeypatch.setattr(os, "readlink", readlink)
    with pytest.raises(PathResolutionError):
        tree.pp("link").within(tree.proj)


def test_not_a_directory_components(tree: Tree) -> None:
    path = tree.pp("a.txt/x")
    assert path.within(tree.proj)
    assert not path.exists()
    assert not tree.pp("a.txt/").exists()
    (tree.proj / "filedir").symlink_to("a.txt/")
    (tree.proj / "fileup").symlink_to("a.txt/..")
    assert not tree.pp("filedir").within(tree.proj)  # dangling: ENOTDIR inside the target
    assert not tree.pp("fileup").within(tree.proj)


def test_absolute_link_targets_and_the_filesystem_root(tree: Tree) -> None:
    (tree.proj / "abs").symlink_to(tree.proj / "sub")
    (tree.proj / "slash").symlink_to("/")
    assert tree.pp("abs/file.txt").within(tree.proj)
    assert tree.pp("slash").resolve() == Path("/")
    assert tree.pp("slash").name_matches("")
    assert tree.pp("/").exists()
    assert tree.pp("/").link_count() >= 1


def test_policy_path_surface(tree: Tree) -> None:
    path = tree.pp("sub/../a.txt")
    assert str(path) == "sub/../a.txt"
    assert path.absolute == f"{tree.proj}/sub/../a.txt"
    assert path.resolve() == tree.proj / "a.txt"
    assert path.starts_with("sub/")
    assert path.contains("/../")
    assert not path.contains("etc")
    assert path.exists()
    assert path.eq(tree.pp("a.txt"))
    assert path.eq(tree.proj / "a.txt")
    assert path.within(tree.pp("."))
    assert path.within("sub/..")
    assert not path.within("sub")
    assert path.mentions("SUB")
    assert not path.mentions("*.py")
    assert not isinstance(path, os.PathLike)
    assert path == PolicyPath.of("sub/../a.txt", cwd=str(tree.proj))
    for name in PolicyPath.POLICY_METHODS:
        assert callable(getattr(path, name)), name
    expected = {
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
    assert expected == PolicyPath.POLICY_METHODS


def test_public_surface() -> None:
    assert paths.__all__ == tuple(sorted(paths.__all__))
    for name in paths.__all__:
        assert hasattr(paths, name), name
    assert issubclass(PathEscape, PermissionError)
    assert issubclass(PathDenied, PermissionError)
    assert issubclass(PathResolutionError, OSError)
    assert issubclass(InvalidPath, ValueError)
    assert DEFAULT_PROTECTED == (".git", ".actrio")


# ----------------------------------------------------------------------------- properties


def _oracle(full: str, root: str) -> bool | str:
    """within() by another route: os.path.realpath per component + kernel stat for links.

    A link whose kernel stat fails with ENOENT/ENOTDIR dangles (→ False); with
    ELOOP, it loops (→ "loop").
    """
    cur = "/"
    for comp in full.split("/"):
        if comp in ("", "."):
            continue
        if comp == "..":
            cur = os.path.dirname(cur)
            continue
        nxt = os.path.join(cur, comp)
        if os.path.islink(nxt):
            try:
                os.stat(nxt)
            except OSError as exc:
                return "loop" if exc.errno == errno.ELOOP else False
            cur = os.path.realpath(nxt)
        else:
            cur = nxt
    real_root = os.path.realpath(root)
    return cur == real_root or cur.startswith(real_root + "/")


def _kernel_resolves(full: str) -> bool:
    try:
        os.stat(full)
    except OSError:
        return False
    return True


@settings(max_examples=150, deadline=None)
@given(tree=symlink_trees(), raws=st.lists(relative_paths(), min_size=1, max_size=8))
def test_within_agrees_with_a_realpath_oracle(tree: SymlinkTree, raws: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(os.path.realpath(tmp))
        root = materialize(tree, base)
        for raw in raws:
            full = os.path.join(root, raw)
            expected = _oracle(full, str(root))
            got: bool | PathResolutionError
            try:
                got = PolicyPath.of(raw, cwd=root).within(root)
            except PathResolutionError as exc:
                got = exc
            if isinstance(got, PathResolutionError):
                assert got.errno == errno.ELOOP, raw
                assert not _kernel_resolves(full), raw  # the kernel cannot resolve it either
            else:
                assert expected != "loop", raw
                assert got is expected, raw


def _snapshot_outside(base: Path, root: Path) -> dict[str, bytes | str]:
    """Every file's bytes and every link's text under ``base``, except inside ``root``."""
    found: dict[str, bytes | str] = {}
    for dirpath, dirs, files in os.walk(base):
        if Path(dirpath) == root:
            dirs.clear()
            continue
        for name in [*dirs, *files]:
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                found[full] = os.readlink(full)
            elif name in files:
                found[full] = Path(full).read_bytes()
    return found


@settings(max_examples=60, deadline=None)
@given(tree=symlink_trees(), raws=st.lists(relative_paths(), min_size=1, max_size=6))
def test_opener_never_leaves_the_root(tree: SymlinkTree, raws: list[str]) -> None:
    """Whatever the tree and path, a write either lands inside (and within() agrees) or fails."""
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(os.path.realpath(tmp))
        root = materialize(tree, base)
        outside_before = _snapshot_outside(base, root)
        for raw in raws:
            try:
                atomic_write(root, raw, b"AGENT", parents=True, protected=())
            except (PathDenied, OSError):
                continue
            landed = PolicyPath.of(raw, cwd=root)
            assert landed.within(root), raw
            assert Path(landed.resolve()).read_bytes() == b"AGENT"
        assert _snapshot_outside(base, root) == outside_before


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_path_attacks_match_their_expectation(data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(os.path.realpath(tmp)) / "proj"
        root.mkdir()
        attack: PathAttack = data.draw(path_attacks(str(root)))
        if attack.expect == "invalid":
            with pytest.raises(InvalidPath):
                PolicyPath.of(attack.text, cwd=root)
            return
        path = PolicyPath.of(attack.text, cwd=root)
        assert path.within(root) is (attack.expect in ("inside", "protected")), attack
        assert path.is_protected() is (attack.expect == "protected"), attack
        assert path.is_special() is (attack.expect == "special"), attack
        if attack.expect in ("outside", "special"):
            with pytest.raises(PathDenied):
                atomic_write(root, attack.text, b"AGENT", parents=True)


def test_materialize_builds_what_the_tree_says(tmp_path: Path) -> None:
    tree = SymlinkTree(
        (
            Entry("root/a", "dir"),
            Entry("root/b", "file"),
            Entry("root/l1", "link", "/outside/b"),
            Entry("root/l2", "link", "../outside"),
        )
    )
    root = materialize(tree, tmp_path)
    assert root == tmp_path / "root"
    assert all((tmp_path / d).is_dir() for d in SKELETON)
    assert (root / "a").is_dir()
    assert (root / "b").read_text() == "root/b"
    assert os.readlink(root / "l1") == str(tmp_path / "outside" / "b")
    assert os.readlink(root / "l2") == "../outside"


@given(raw=relative_paths(max_components=1))
def test_relative_paths_are_valid_relative_texts(raw: str) -> None:
    assert raw
    assert not raw.startswith("/")
    assert "/" not in raw
