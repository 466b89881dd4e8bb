"""The README's Python examples run as written (a key-less example must succeed).

An example that calls a provider needs its API key; here none is set, so it
must fail with actrio's AuthenticationError, naming the variable to set,
and nothing else.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = [
    b for b in re.findall(r"```python\n(.*?)```", README.read_text(), re.S) if "trio.run(" in b
]


def test_the_readme_has_runnable_examples() -> None:
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_a_readme_example_runs(code: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    done = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    if re.search(
        r"from_model_string\(|\b(AnthropicMessages|OpenAIChat|OpenAIResponses|Gemini)\(", code
    ):
        assert "AuthenticationError: no API key" in done.stderr, done.stderr[-2000:]
    else:
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.strip()
