"""The ``actrio`` command: ``--version`` and the crash-and-heal demo.

The demo calls ``trio.run`` itself, so these tests are plain functions.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

import actrio
from actrio.cli import main

EVENT_LINE = re.compile(r"^  \[\s*(\d+)\] (\S+)\s+(.*)$")


def events_in(out: str) -> list[tuple[int, str, str]]:
    """The narrated events: (seq, verb, rest of the line)."""
    found = []
    for line in out.splitlines():
        m = EVENT_LINE.match(line)
        if m:
            found.append((int(m[1]), m[2], m[3]))
    return found


def test_demo_crashes_restarts_and_stops_cleanly(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--jobs", "9"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("actrio demo:")
    assert lines[-1] == "the tree stopped cleanly: every started actor also stopped"

    events = events_in(out)
    # The narrated events carry the bus's sequence numbers: 1, 2, 3, ... no gap.
    assert [seq for seq, _, _ in events] == list(range(1, len(events) + 1))

    crashed = [rest for _, verb, rest in events if verb == "crashed"]
    assert crashed
    assert all(rest.startswith("/app/alpha on Job: RuntimeError: job ") for rest in crashed)
    assert any("job 4 is cursed" in rest for rest in crashed)
    restarted = [rest for _, verb, rest in events if verb == "restarted"]
    assert "/app/alpha -> incarnation 2" in restarted
    assert len(restarted) == len(crashed)

    # The first crash comes before the first restart, which comes before the end.
    verbs = [verb for _, verb, _ in events]
    assert verbs.index("crashed") < verbs.index("restarted")
    assert "/app/alpha: job 4 failed (job 4 is cursed); the supervisor restarts it" in lines
    assert any(line.startswith("/app/alpha: job 6 done") for line in lines)

    # Every started incarnation also stopped.
    assert verbs.count("started") == verbs.count("stopped")
    assert ("stopped", "/app (stopped)") in [(verb, rest) for _, verb, rest in events]


def test_demo_with_few_jobs_has_no_crash(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--jobs", "3"]) == 0
    out = capsys.readouterr().out
    verbs = [verb for _, verb, _ in events_in(out)]
    assert "crashed" not in verbs
    assert "restarted" not in verbs
    assert "alpha restarted 0x, beta restarted 0x" in out
    assert out.splitlines()[-1].startswith("the tree stopped cleanly")


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0
    assert capsys.readouterr().out.strip() == f"actrio {actrio.__version__}"


@pytest.mark.parametrize("argv", [[], ["nope"], ["demo", "--jobs", "many"]])
def test_bad_usage_exits_with_status_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert "usage: actrio" in capsys.readouterr().err


def test_python_dash_m_actrio_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "actrio", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"actrio {actrio.__version__}"
