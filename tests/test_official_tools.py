"""The official tools as ``@tool`` objects: real files, real subprocesses, a real server.

Covers the catalog binding (each tool's parameter names are its
capability's), B-05 (capped reads and output), B-11 (edit integrity and
atomic writes under injected failures), PT-02/03/04 (links to outside,
dangling links, linked directories), PT-05 (hard links), PT-06 (a racer
flipping a file and a link), PT-08 (protected names), PT-11 (FIFOs) and
SE-06 (no provider key reaches the shell).
"""

from __future__ import annotations

import errno
import gc
import json
import os
import pickle
import stat
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from actrio.policy import _fsopen
from actrio.policy._catalog import CATALOG
from actrio.policy.paths import PathEscape, ProtectedPath, SpecialFile
from actrio.tools import Tool, ToolArgumentsError, ToolError, ToolFailed, official, render_result
from actrio.tools._context import ToolContext, tool_context
from actrio.tools.official import (
    EditError,
    EmptyOldText,
    FetchUrlResult,
    FileToolError,
    InvalidCommand,
    InvalidRequest,
    OldTextAmbiguous,
    OldTextNotFound,
    PathRefused,
    ShellResult,
    _fs,
    _http,
    _shell,
    edit_file,
    fetch_url,
    read_file,
    run_shell,
    write_file,
)
from httpserver import ScriptedServer, open_scripted_server, respond

CANARY = "sk-test-canary-0fc1a7"
TEXT = {"content-type": "text/plain"}
SECRET = b"outside secret\n"
TOOLS = (read_file, write_file, edit_file, run_shell, fetch_url)


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    """A workspace ``proj`` next to ``outside/secret.txt``, which no tool may touch."""
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_bytes(SECRET)
    root = tmp_path / "proj"
    root.mkdir()
    return root


def outside(proj: Path) -> Path:
    return proj.parent / "outside"


def assert_outside_untouched(proj: Path) -> None:
    assert sorted(p.name for p in outside(proj).iterdir()) == ["secret.txt"]
    assert (outside(proj) / "secret.txt").read_bytes() == SECRET


async def call(t: Tool, root: Path, **arguments: Any) -> Any:
    """Run a tool as the runtime would: validated arguments, the workspace in the context."""
    with tool_context(ToolContext(workspace=root)):
        return await t.run(arguments)


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()}


# ---------------------------------------------------------------- surface


@pytest.mark.parametrize("t", TOOLS, ids=lambda t: t.name)
def test_parameter_names_are_the_catalogs(t: Tool) -> None:
    """Policies bind a tool's arguments by the catalog's names for its capability."""
    assert t.capability is not None
    assert tuple(t.parameters["properties"]) == CATALOG[t.capability].param_names
    assert t.description


def test_names_capabilities_and_strictness() -> None:
    assert {t.name: t.capability for t in TOOLS} == {
        "read_file": "fs.read",
        "write_file": "fs.write",
        "edit_file": "fs.edit",
        "run_shell": "os.shell",
        "fetch_url": "http.fetch",
    }
    # A free-form headers object has no strict form; the others are strict.
    assert [t.strict for t in TOOLS] == [True, True, True, True, False]


def test_public_surface_is_sorted_and_importable() -> None:
    assert list(official.__all__) == sorted(official.__all__)
    for name in official.__all__:
        assert getattr(official, name) is not None
    assert {t.name for t in TOOLS} <= set(official.__all__)


def test_errors_are_typed_and_pickle() -> None:
    refused = PathRefused("a/b", "component 'a' is a symbolic link", errno.EACCES)
    assert isinstance(refused, ToolError | PermissionError)
    assert isinstance(refused, FileToolError)
    assert str(refused) == "'a/b': component 'a' is a symbolic link"
    assert (refused.errno, refused.filename) == (errno.EACCES, "a/b")
    again = pickle.loads(pickle.dumps(refused))
    assert type(again) is PathRefused
    assert (again.path, again.reason, again.errno) == ("a/b", refused.reason, errno.EACCES)
    ambiguous = OldTextAmbiguous("f.txt", 3)
    assert isinstance(ambiguous, EditError | ValueError)
    assert "3 times" in str(ambiguous)
    assert str(EditError("f.txt", 0)) == "'f.txt': old text does not pick one place"


# ---------------------------------------------------------------- read_file


async def test_read_file_relative_to_the_workspace(proj: Path) -> None:
    (proj / "notes.txt").write_text("héllo\nworld\n", encoding="utf-8")
    assert await call(read_file, proj, path="notes.txt") == "héllo\nworld\n"
    assert await call(read_file, proj, path=str(proj / "notes.txt")) == "héllo\nworld\n"


async def test_read_file_without_workspace_uses_the_current_directory(
    proj: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (proj / "here.txt").write_text("cwd")
    monkeypatch.chdir(proj)
    assert await read_file.run({"path": "here.txt"}) == "cwd"


async def test_read_file_replaces_invalid_utf8(proj: Path) -> None:
    (proj / "bin").write_bytes(b"ok \xff\xfe end")
    assert await call(read_file, proj, path="bin") == "ok \ufffd\ufffd end"


async def test_read_file_is_capped_with_the_original_size_b05(proj: Path) -> None:
    size = _fs.READ_MAX_BYTES + 12_345
    (proj / "big.txt").write_bytes(b"x" * size)
    text = await call(read_file, proj, path="big.txt")
    head, _, marker = text.rpartition("\n")
    assert head == "x" * _fs.READ_MAX_BYTES
    assert marker == (
        f"[truncated: the file is {size:,} bytes; the first {_fs.READ_MAX_BYTES:,} are shown]"
    )


async def test_read_cut_inside_a_character_drops_it(proj: Path) -> None:
    (proj / "euro.txt").write_bytes("ab€cd".encode())  # € is 3 bytes: a b [e2 82 ac] c d
    text = _fs._read_text(proj, "euro.txt", max_bytes=4)
    assert text == "ab\n[truncated: the file is 7 bytes; the first 4 are shown]"
    assert _fs._read_text(proj, "euro.txt", max_bytes=7) == "ab€cd"


async def test_read_file_refuses_a_fifo_without_hanging_pt11(proj: Path) -> None:
    os.mkfifo(proj / "pipe")
    with trio.fail_after(5), pytest.raises(PathRefused) as caught:
        await call(read_file, proj, path="pipe")
    assert isinstance(caught.value.__cause__, SpecialFile)


@pytest.mark.parametrize(
    ("path", "code", "kind"),
    [
        ("missing.txt", errno.ENOENT, FileToolError),
        ("sub", errno.EISDIR, FileToolError),
        ("   ", errno.EINVAL, FileToolError),
        ("../outside/secret.txt", errno.EACCES, PathRefused),
        ("/etc/passwd", errno.EACCES, PathRefused),
    ],
)
async def test_read_file_errors_are_typed(
    proj: Path, path: str, code: int, kind: type[FileToolError]
) -> None:
    (proj / "sub").mkdir()
    with pytest.raises(kind) as caught:
        await call(read_file, proj, path=path)
    assert type(caught.value) is kind
    assert caught.value.errno == code
    assert caught.value.path == path
    assert str(caught.value).startswith(repr(path))


async def test_read_of_a_protected_name_is_allowed(proj: Path) -> None:
    """Protected names guard writes only (PT-08); reading .git/config is the policies' call."""
    (proj / ".git").mkdir()
    (proj / ".git" / "config").write_text("[core]\n")
    assert await call(read_file, proj, path=".git/config") == "[core]\n"


# ---------------------------------------------------------------- write_file


async def test_write_file_creates_and_replaces(proj: Path) -> None:
    assert await call(write_file, proj, path="a.txt", content="héllo") == "wrote 6 bytes to a.txt"
    assert (proj / "a.txt").read_text(encoding="utf-8") == "héllo"
    await call(write_file, proj, path="a.txt", content="second")
    assert (proj / "a.txt").read_text() == "second"
    assert await call(write_file, proj, path="new/dir/b.txt", content="") == (
        "wrote 0 bytes to new/dir/b.txt"
    )
    assert (proj / "new" / "dir" / "b.txt").read_bytes() == b""


async def test_write_file_keeps_permission_bits(proj: Path) -> None:
    script = proj / "run.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o750)
    await call(write_file, proj, path="run.sh", content="#!/bin/sh\necho hi\n")
    assert stat.S_IMODE(script.stat().st_mode) == 0o750


async def test_unpaired_surrogates_are_refused_or_replaced(proj: Path) -> None:
    """Validation refuses them (B-06); a direct call of the function writes U+FFFD."""
    with pytest.raises(ToolArgumentsError, match="unpaired surrogate"):
        await call(write_file, proj, path="s.txt", content="a\ud800b")
    assert not (proj / "s.txt").exists()
    with tool_context(ToolContext(workspace=proj)):
        await write_file.fn(path="s.txt", content="a\ud800b")
    assert (proj / "s.txt").read_text(encoding="utf-8") == "a\ufffdb"


async def test_write_failing_midway_keeps_the_old_file_b11(
    proj: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that fails half-way (disk full) leaves the old file whole and no temp file."""
    target = proj / "data.txt"
    target.write_text("old contents")
    real_write = os.write

    def half_then_full(fd: int, data: Any) -> int:
        if len(data) < 10_000:  # not ours: pass through
            return real_write(fd, data)
        real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_fsopen.os, "write", half_then_full)
    with pytest.raises(FileToolError) as caught:
        await call(write_file, proj, path="data.txt", content="n" * 50_000)
    monkeypatch.undo()
    assert caught.value.errno == errno.ENOSPC
    assert type(caught.value) is FileToolError
    assert snapshot(proj) == {"data.txt": b"old contents"}


async def test_crash_before_the_rename_keeps_the_old_file_b11(
    proj: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected exception (not an OSError) reaches the caller as ToolFailed; old file kept."""
    (proj / "data.txt").write_text("old contents")

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("injected crash")

    monkeypatch.setattr(_fsopen.os, "replace", crash)
    with pytest.raises(ToolFailed) as caught:
        await call(write_file, proj, path="data.txt", content="new contents")
    monkeypatch.undo()
    assert isinstance(caught.value.error, RuntimeError)
    assert snapshot(proj) == {"data.txt": b"old contents"}


@pytest.mark.parametrize(
    "path", [".git/config", ".git/hooks/pre-commit", ".actrio/policy.toml", "sub/.git/x"]
)
async def test_protected_names_are_never_written_pt08(proj: Path, path: str) -> None:
    (proj / ".git").mkdir()
    (proj / ".git" / "config").write_text("[core]\n")
    with pytest.raises(PathRefused) as caught:
        await call(write_file, proj, path=path, content="[core]\nhooksPath = /tmp/evil\n")
    assert isinstance(caught.value.__cause__, ProtectedPath)
    assert "protected" in str(caught.value)
    assert (proj / ".git" / "config").read_text() == "[core]\n"
    assert sorted(p.name for p in (proj / ".git").iterdir()) == ["config"]
    assert not (proj / ".actrio").exists()
    assert not (proj / "sub").exists()


async def test_protected_names_come_from_the_context(proj: Path) -> None:
    context = ToolContext(workspace=proj, protected=(".secrets",))
    with tool_context(context):
        with pytest.raises(PathRefused):
            await write_file.run({"path": ".secrets/key", "content": "x"})
        await write_file.run({"path": "ok.txt", "content": "x"})
    assert not (proj / ".secrets").exists()
    assert (proj / "ok.txt").read_text() == "x"


# ---------------------------------------------------------------- edit_file


async def test_edit_file_replaces_one_exact_occurrence(proj: Path) -> None:
    (proj / "code.py").write_text("def f():\n    return 1\n")
    reply = await call(edit_file, proj, path="code.py", old="return 1", new="return 42")
    assert reply == "edited code.py: replaced 1 occurrence (22 -> 23 bytes)"
    assert (proj / "code.py").read_text() == "def f():\n    return 42\n"


async def test_edit_keeps_bytes_that_are_not_utf8(proj: Path) -> None:
    (proj / "latin1.txt").write_bytes(b"caf\xe9 = 1\nx = 2\n")
    await call(edit_file, proj, path="latin1.txt", old="x = 2", new="x = 3")
    assert (proj / "latin1.txt").read_bytes() == b"caf\xe9 = 1\nx = 3\n"


@pytest.mark.parametrize(
    ("old", "error", "count", "says"),
    [
        ("absent", OldTextNotFound, 0, "not found"),
        ("same", OldTextAmbiguous, 3, "occurs 3 times"),
        ("aa", OldTextAmbiguous, 2, "occurs 2 times"),  # overlapping: "aaa" has two places
        ("", EmptyOldText, 0, "empty"),
    ],
)
async def test_edit_that_picks_no_single_place_changes_nothing_b11(
    proj: Path, old: str, error: type[EditError], count: int, says: str
) -> None:
    original = b"same same same\nxaaa\n"
    target = proj / "f.txt"
    target.write_bytes(original)
    before = target.stat()
    with pytest.raises(error) as caught:
        await call(edit_file, proj, path="f.txt", old=old, new="NEW")
    assert type(caught.value) is error
    assert caught.value.count == count
    assert caught.value.path == "f.txt"
    assert says in str(caught.value)
    after = target.stat()
    assert target.read_bytes() == original
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert snapshot(proj) == {"f.txt": original}


async def test_edit_failing_at_the_rename_keeps_the_old_file_b11(
    proj: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (proj / "f.txt").write_text("alpha beta\n")

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(_fsopen.os, "replace", fail)
    with pytest.raises(FileToolError) as caught:
        await call(edit_file, proj, path="f.txt", old="beta", new="gamma")
    monkeypatch.undo()
    assert caught.value.errno == errno.EIO
    assert snapshot(proj) == {"f.txt": b"alpha beta\n"}


async def test_edit_missing_or_too_large_file(proj: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(FileToolError) as missing:
        await call(edit_file, proj, path="nope.txt", old="a", new="b")
    assert missing.value.errno == errno.ENOENT
    (proj / "big.txt").write_text("a" * 100)
    monkeypatch.setattr(_fs, "EDIT_MAX_BYTES", 10)
    with pytest.raises(FileToolError) as large:
        await call(edit_file, proj, path="big.txt", old="a" * 100, new="b")
    assert large.value.errno == errno.EFBIG
    assert "too large to edit" in str(large.value)
    assert (proj / "big.txt").read_text() == "a" * 100


async def test_edit_of_a_protected_file_is_refused_pt08(proj: Path) -> None:
    (proj / ".git").mkdir()
    (proj / ".git" / "config").write_text("[core]\n")
    with pytest.raises(PathRefused):
        await call(edit_file, proj, path=".git/config", old="[core]", new="[evil]")
    assert (proj / ".git" / "config").read_text() == "[core]\n"


@settings(max_examples=40, deadline=None)
@given(
    text=st.text(alphabet="ab\n", max_size=12),
    old=st.text(alphabet="ab\n", max_size=3),
    new=st.text(alphabet="xy", max_size=3),
)
async def test_edit_succeeds_exactly_when_old_picks_one_place_b11(
    text: str, old: str, new: str
) -> None:
    places = sum(text.startswith(old, i) for i in range(len(text))) if old else 0
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / "f").write_text(text)
        if places == 1:
            await call(edit_file, root, path="f", old=old, new=new)
            assert (root / "f").read_text() == text.replace(old, new, 1)
        else:
            with pytest.raises(EditError) as caught:
                await call(edit_file, root, path="f", old=old, new=new)
            assert caught.value.count == places
            assert (root / "f").read_text() == text


# ---------------------------------------------------------------- links (PT-02 … PT-06)


@pytest.mark.parametrize(
    ("t", "arguments"),
    [
        (read_file, {}),
        (write_file, {"content": "pwned\n"}),
        (edit_file, {"old": "outside", "new": "pwned"}),
    ],
    ids=["read", "write", "edit"],
)
async def test_link_to_an_outside_file_is_refused_pt02(
    proj: Path, t: Tool, arguments: dict[str, str]
) -> None:
    (proj / "link").symlink_to(outside(proj) / "secret.txt")
    with pytest.raises(PathRefused) as caught:
        await call(t, proj, path="link", **arguments)
    assert isinstance(caught.value.__cause__, PathEscape)
    assert "symbolic link" in str(caught.value)
    assert (proj / "link").is_symlink()
    assert_outside_untouched(proj)


async def test_link_back_inside_the_root_is_refused_too(proj: Path) -> None:
    """The safe opener follows no link at all, even one that stays inside (policy.paths)."""
    (proj / "real.txt").write_text("inside")
    (proj / "alias.txt").symlink_to("real.txt")
    with pytest.raises(PathRefused):
        await call(read_file, proj, path="alias.txt")


async def test_dangling_link_write_is_refused_pt03(proj: Path) -> None:
    (proj / "new").symlink_to("../outside/new")
    with pytest.raises(PathRefused):
        await call(write_file, proj, path="new", content="planted\n")
    assert (proj / "new").is_symlink()
    assert_outside_untouched(proj)


@pytest.mark.parametrize(
    ("t", "arguments"),
    [
        (read_file, {"path": "d/secret.txt"}),
        (write_file, {"path": "d/x", "content": "planted\n"}),
        (write_file, {"path": "d/secret.txt", "content": "pwned\n"}),
        (edit_file, {"path": "d/secret.txt", "old": "outside", "new": "pwned"}),
    ],
    ids=["read", "create", "replace", "edit"],
)
async def test_linked_directory_component_is_refused_pt04(
    proj: Path, t: Tool, arguments: dict[str, str]
) -> None:
    (proj / "d").symlink_to(outside(proj), target_is_directory=True)
    with pytest.raises(PathRefused):
        await call(t, proj, **arguments)
    assert_outside_untouched(proj)


async def test_hard_link_to_an_outside_inode_pt05(proj: Path) -> None:
    """Pinned: a hard-linked file reads as what its name shows, and is never written."""
    os.link(outside(proj) / "secret.txt", proj / "h")
    assert await call(read_file, proj, path="h") == SECRET.decode()
    for t, arguments in ((write_file, {"content": "x"}), (edit_file, {"old": "o", "new": "x"})):
        with pytest.raises(PathRefused, match="hard links"):
            await call(t, proj, path="h", **arguments)
    assert_outside_untouched(proj)


RACER = """
import os, sys, time
name, link_target = sys.argv[1], sys.argv[2]
tmp_link, tmp_file = name + ".racer-link", name + ".racer-file"
while True:
    os.symlink(link_target, tmp_link)
    os.replace(tmp_link, name)
    time.sleep(0.0002)
    with open(tmp_file, "w") as f:
        f.write("inside\\n")
    os.replace(tmp_file, name)
    time.sleep(0.0002)
"""


async def test_racer_flipping_file_and_link_never_lands_outside_pt06(proj: Path) -> None:
    """A process swaps ``a.txt`` between a file and a link to outside while the tools work."""
    name = proj / "a.txt"
    name.write_text("inside\n")
    racer = await trio.lowlevel.open_process(
        [sys.executable, "-c", RACER, str(name), str(outside(proj) / "secret.txt")]
    )
    outcomes: dict[str, int] = {}
    try:
        with trio.fail_after(10):
            while not name.is_symlink():
                await trio.sleep(0.001)
        calls = [
            (read_file, {}),
            (write_file, {"content": "agent\n"}),
            (edit_file, {"old": "inside", "new": "edited"}),
        ]
        for i in range(600):
            t, arguments = calls[i % 3]
            try:
                result = await call(t, proj, path="a.txt", **arguments)
            except (FileToolError, EditError) as error:
                outcomes[type(error).__name__] = outcomes.get(type(error).__name__, 0) + 1
            else:
                assert result != SECRET.decode()
                outcomes["ok"] = outcomes.get("ok", 0) + 1
    finally:
        racer.kill()
        await racer.wait()
    assert sum(outcomes.values()) == 600
    assert outcomes.get("PathRefused", 0) > 0
    assert (outside(proj) / "secret.txt").read_bytes() == SECRET
    assert sorted(p.name for p in outside(proj).iterdir()) == ["secret.txt"]


# ---------------------------------------------------------------- run_shell


async def test_shell_runs_in_the_workspace(proj: Path) -> None:
    (proj / "marker").write_text("")
    result = await call(run_shell, proj, command="pwd; ls")
    assert isinstance(result, ShellResult)
    assert result.stdout.splitlines() == [str(proj), "marker"]
    assert (result.exit_code, result.signal, result.timed_out) == (0, None, False)
    assert (result.stdout_truncated, result.stderr_truncated) == (False, False)


async def test_shell_without_workspace_runs_in_the_current_directory(
    proj: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(proj)
    result = await run_shell.run({"command": "pwd"})
    assert result.stdout == f"{proj}\n"


async def test_shell_environment_has_no_provider_key_se06(
    proj: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", CANARY)
    result = await call(run_shell, proj, command="env; cat /proc/self/environ 2>/dev/null")
    assert result.exit_code == 0
    assert "PATH=" in result.stdout
    assert CANARY not in result.stdout
    assert "OPENAI_API_KEY" not in result.stdout
    assert "ANTHROPIC_API_KEY" not in result.stdout


async def test_shell_output_is_capped_per_stream_b05(proj: Path) -> None:
    command = "head -c 100000 /dev/zero | tr '\\0' a; echo oops >&2; exit 3"
    result = await call(run_shell, proj, command=command)
    assert result.exit_code == 3
    assert result.stdout == "a" * _shell.SHELL_MAX_OUTPUT
    assert (result.stdout_truncated, result.stdout_bytes) == (True, 100_000)
    assert (result.stderr, result.stderr_truncated, result.stderr_bytes) == ("oops\n", False, 5)


async def test_shell_result_renders_status_before_output(proj: Path) -> None:
    result = await call(run_shell, proj, command="echo out; echo err >&2")
    rendered = json.loads(render_result(result).text)
    assert list(rendered) == [
        "exit_code",
        "signal",
        "timed_out",
        "stdout_truncated",
        "stderr_truncated",
        "stdout_bytes",
        "stderr_bytes",
        "stderr",
        "stdout",
    ]
    assert (rendered["stdout"], rendered["stderr"]) == ("out\n", "err\n")


async def test_shell_timeout_stops_the_command(proj: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_shell, "SHELL_TIMEOUT", 0.3)
    with trio.fail_after(10):
        result = await call(run_shell, proj, command="echo started; sleep 30")
    assert result.timed_out
    assert result.stdout == "started\n"
    assert result.exit_code is None
    assert result.signal is not None


async def test_shell_refuses_an_empty_command(proj: Path) -> None:
    with pytest.raises(InvalidCommand, match="command: is empty"):
        await call(run_shell, proj, command="   ")


# ---------------------------------------------------------------- fetch_url


@pytest.fixture
async def server() -> Any:
    async with open_scripted_server() as srv:
        yield srv


def _client(**options: Any) -> httpx.AsyncClient:
    # trust_env=False: a proxy from the environment must not reroute 127.0.0.1.
    return httpx.AsyncClient(trust_env=False, **options)


async def test_fetch_goes_through_the_context_client(server: ScriptedServer) -> None:
    server.route(
        "POST",
        "/api",
        respond(201, {"ok": True}, {"set-cookie": "s=1", "x-id": "7"}),
    )
    async with _client(headers={"x-shared-client": "yes"}) as client:
        with tool_context(ToolContext(http=client)):
            result = await fetch_url.run(
                {
                    "url": f"{server.url}/api?q=1",
                    "method": "post",
                    "headers": {"x-token": "abc"},
                    "body": "héllo",
                }
            )
    assert isinstance(result, FetchUrlResult)
    assert (result.status, result.text, result.truncated) == (201, '{"ok": true}', False)
    assert result.url == f"{server.url}/api?q=1"
    assert result.content_type == "application/json"
    assert result.bytes_total == 12
    assert result.headers["x-id"] == "7"
    assert result.headers["set-cookie"] == "[REDACTED]"
    [request] = server.requests
    assert (request.method, request.path, request.body) == ("POST", "/api?q=1", "héllo".encode())
    assert request.header("x-shared-client") == "yes"
    assert request.header("x-token") == "abc"
    rendered = json.loads(render_result(result).text)
    assert rendered["status"] == 201
    assert rendered["headers"]["x-id"] == "7"


async def test_fetch_without_a_context_client_ignores_proxy_settings(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The call's own client has trust_env=False: a proxy variable cannot reroute the request."""
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    server.route("GET", "/page", respond(200, "plain text", content_type="text/plain"))
    result = await fetch_url.run({"url": f"{server.url}/page"})
    assert (result.status, result.text) == (200, "plain text")
    [request] = server.requests
    assert request.method == "GET"
    assert request.header("x-shared-client") is None


async def test_fetch_body_is_capped_b05(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cut body, and a binary one, through a given client (an in-memory transport).

    The cut is not shown on the real socket here: see the xfail test below.
    """
    monkeypatch.setattr(_http, "FETCH_MAX_BYTES", 10)

    def respond_to(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/big":
            return httpx.Response(200, content=b"0123456789abcdef", headers=TEXT)
        return httpx.Response(200, content=b"\x89PNG\r\n", headers={"content-type": "image/png"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(respond_to)) as client:
        with tool_context(ToolContext(http=client)):
            big = await fetch_url.run({"url": "https://example.test/big"})
            image = await fetch_url.run({"url": "https://example.test/img", "method": None})
    assert (big.text, big.truncated, big.bytes_total) == ("0123456789", True, 16)
    assert (image.text, image.content_type, image.truncated) == (None, "image/png", False)


@pytest.mark.xfail(
    strict=True,
    reason="httpx's nested body generators (aiter_raw, BoundAsyncStream.__aiter__) are left"
    " to trio's GC finalizer when a body is cut, although _fetch._read closes aiter_bytes();"
    " trio warns (ResourceWarning, an error under filterwarnings=error); encode/httpx#3686",
)
async def test_fetch_cut_on_a_real_socket_leaves_no_open_generator_b05(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_http, "FETCH_MAX_BYTES", 10)
    server.route("GET", "/big", respond(200, "0123456789abcdef", content_type="text/plain"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with _client() as client:
            with tool_context(ToolContext(http=client)):
                big = await fetch_url.run({"url": f"{server.url}/big"})
        gc.collect()
    assert (big.text, big.truncated) == ("0123456789", True)
    assert [w.message for w in caught if issubclass(w.category, ResourceWarning)] == []


async def test_fetch_does_not_follow_redirects(server: ScriptedServer) -> None:
    server.route("GET", "/old", respond(302, b"", {"location": "/new"}))
    async with _client() as client:
        with tool_context(ToolContext(http=client)):
            result = await fetch_url.run({"url": f"{server.url}/old"})
    assert result.status == 302
    assert result.headers["location"] == "/new"
    assert [r.path for r in server.requests] == ["/old"]


async def test_fetch_refuses_bad_requests_before_sending(server: ScriptedServer) -> None:
    async with _client() as client:
        with tool_context(ToolContext(http=client)):
            with pytest.raises(InvalidRequest, match="method"):
                await fetch_url.run({"url": f"{server.url}/", "method": "TRACE"})
            with pytest.raises(InvalidRequest, match="scheme 'file'"):
                await fetch_url.run({"url": "file:///etc/passwd"})
    assert server.requests == []
