"""Benchmark plumbing: a ``report`` fixture whose lines are repeated at the end of the run."""

from __future__ import annotations

import os
import platform
from typing import TYPE_CHECKING

import pytest
import trio

import actrio

if TYPE_CHECKING:
    from collections.abc import Callable

_LINES: list[str] = []


@pytest.fixture
def report() -> Callable[[str], None]:
    """Print a result line now (visible with ``-s``) and again in the final summary."""

    def _report(line: str) -> None:
        print(f"\n{line}")
        _LINES.append(line)

    return _report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _LINES:
        return
    terminalreporter.section("actrio kernel benchmarks")
    terminalreporter.write_line(
        f"python {platform.python_version()}, trio {trio.__version__}, "
        f"actrio {actrio.__version__}, {os.cpu_count()} CPUs"
    )
    for line in _LINES:
        terminalreporter.write_line(line)
