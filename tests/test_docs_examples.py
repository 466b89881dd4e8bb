"""Every runnable example under docs/examples runs, and prints what the docs say."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"

EXPECTED = {
    "policies.py": [
        "os.shell {'command': 'git commit -m x && rm -rf ~'}: denied (shell-allowlist)",
        "fs.write {'path': '../outside.txt', 'content': 'x'}: denied (stay-home)",
        "fs.write {'path': 'notes.txt', 'content': 'x'}: allowed",
        "fs.write {'path': 'other.txt', 'content': 'x'}: denied (before-fs.write-1)",
        "refused at load: unknown capability 'fs.wirte'",
    ],
    "runtime_tools.py": [
        "asked: Allow fs.write(path='notes.txt', content='hello')?",
        "hello",
        "run_shell denied by shell-allowlist",
        "write_file denied by stay-home",
        "write_file denied by before-fs.write-1",
        "decision events: 7, allowed: 4",
    ],
    "tools.py": [
        '["query", "limit", "order"]',
        "['trio #0 by date', 'trio #1 by date']",
        "The arguments for tool 'search' were rejected:",
        "no tool named 'Search' (names match exactly); available: search",
    ],
    "scopes.py": [
        "search cancelled: True",
        "child deadline is the parent's: True",
        "timeout: scope 'bounded' passed its deadline",
        "ended retriever slow: cancelled (user pressed stop)",
        "ended agent bounded: cancelled (deadline exceeded)",
    ],
    "events.py": [
        "start tool  echo",
        "end   tool  echo -> ok",
        "tool result in the export: {'echo': 'hi'}",
    ],
    "middleware.py": [
        "{'hits': 3, 'key_was': 'k-123'}",
        "blocked: deleting files is not allowed",
        "observers saw search args: {'q': 'trio', 'api_key': '***'}",
        "model said: hello!",
    ],
    "providers.py": [
        "complete: Hello! stop 17",
        "stream: ['TextDelta', 'TextDelta', 'Finish']",
        "error: RateLimited 429",
        "fallback: Hello!",
        "invalid output: $.population",
        "cost: $0.000013",
    ],
    "plugins.py": [
        "installed: ('audit',)",
        "blocked: blocked by the audit plugin",
        "after uninstall: ran",
        "bad config: plugins[0].nmae",
    ],
    "agents_quickstart.py": [
        "completed: It has 4 words.",
        "steps: 2, tokens: 80",
        "  assistant word_count({'text': 'the quick brown fox'})",
        "  tool      -> 4",
    ],
    "agents_streaming.py": [
        "tool_call_ended lookup -> Lyon: 21 C, sunny",
        "delta 'It is s'",
        "delta '21 C.'",
        "run_ended completed after 2 steps",
        "result: It is sunny in Lyon, 21 C.",
        "cancelled run: cancelled (user pressed stop)",
        "the unfinished call's result: Error: not completed: user pressed stop",
    ],
    "agents_team.py": [
        "lead: completed: Supervisors restart crashed actors; the claim could not be checked.",
        "  the lead's model saw: Supervisors restart.",
        "  the lead's model saw: sub-agent 'checker' did not complete: budget_exceeded",
        "  run of checker: budget_exceeded after 2 model calls",
        "  run of researcher: completed after 2 model calls",
        "  checker was granted 1 tool calls",
        "  researcher was granted 8 tool calls",
        "handoff: triage -> billing",
        "triage's run: completed, answered by billing: Your refund is on its way.",
    ],
    "agents_budget_context.py": [
        "reader: budget_exceeded: budget exceeded: budget 'reader' exceeded model_calls",
        "  exhausted reader: model_calls, 4 > 3",
        "  charged: model call, tokens, tool call, model call, tokens, tool call, model call, "
        "tokens, tool call",
        "  tool results kept: 3",
        "archivist: completed: Eight notes, all lorem ipsum.",
        "  drop_oldest_turns: 2274 -> 1710 tokens",
        "  summarize: 1710 -> 1745 tokens",
        "  the model got 15 messages; the transcript keeps 19",
        "  the note: system: Summary of the earlier conversation (older turns were removed):",
    ],
}


def test_every_example_is_checked() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    out = capsys.readouterr().out
    for line in EXPECTED[name]:
        assert line in out
