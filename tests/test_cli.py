"""The ``actrio`` command: ``--version`` and ``actrio demo``, a team of agents under a supervisor.

The demo runs in-process with ``--fast`` (``main`` calls ``trio.run`` itself,
so those tests are plain functions), in virtual time through its async entry
(the delays that make it watchable), with the ``rich`` live tree when rich is
installed, and once as ``python -m actrio demo --fast`` in a subprocess.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import time
from typing import Any

import pytest
import trio

import actrio
from actrio import _demo, _demo_view
from actrio._demo import (
    BUDGETS,
    DENIED_COMMAND,
    DemoUsageError,
    build_lead,
    build_team,
    make_tools,
    resolve_model,
    run_demo,
)
from actrio._demo_view import (
    Line,
    Node,
    PlainRenderer,
    RichRenderer,
    Service,
    TeamView,
    cut,
    pick_renderer,
    row,
    service_row,
)
from actrio.actors import PolicyDecision
from actrio.adapters.errors import ServerError
from actrio.agents import ContextCompressed, ModelCalled, RunEnded, RunStarted, ToolCallEnded
from actrio.cli import main
from actrio.context import BudgetExhausted
from actrio.events import Mark, ScopeEnded, ScopeStarted
from actrio.kernel import ActorFailed, ActorRestarted, ActorStarted, ErrorInfo
from actrio.testing import FunctionModel, ScriptedModel, Turn
from actrio.types import ModelRequest, Usage

LINE = re.compile(r"^\[\s*(\d+\.\d\d)s\] (\S+)\s+(.*)$")


def told(out: str) -> list[tuple[float, str, str]]:
    """The event lines of the plain view: (seconds, verb, text)."""
    found = []
    for line in out.splitlines():
        m = LINE.match(line)
        if m:
            found.append((float(m[1]), m[2], m[3]))
    return found


def first(lines: list[tuple[float, str, str]], verb: str, start: str, after: int = -1) -> int:
    """The index of the first line past ``after`` with ``verb`` whose text starts with ``start``."""
    for i, (_, v, text) in enumerate(lines):
        if i > after and v == verb and text.startswith(start):
            return i
    raise AssertionError(f"no {verb!r} line starting {start!r}")


@pytest.fixture
def no_shell(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record (and refuse) every command the shell tool would start."""
    started: list[str] = []

    async def run_command(command: str, **_: Any) -> Any:
        started.append(command)
        raise AssertionError(f"the shell ran {command!r}")

    monkeypatch.setattr("actrio.tools.official._shell.run_command", run_command)
    return started


# ---------------------------------------------------------------- the whole demo


def test_demo_fast_tells_the_whole_story(
    capsys: pytest.CaptureFixture[str], no_shell: list[str]
) -> None:
    """A team under a supervisor and a supervised tool, both restarted (S-01), a denied
    shell command (SH-01), a budget stop and a compression."""
    assert main(["demo", "--fast"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out  # not a terminal: plain lines, no ANSI codes
    header = out.splitlines()
    assert header[0].startswith("actrio demo: a lead agent and a team of three agents under a")
    assert f"  policy      {_demo.SHELL_POLICY}" in header
    assert (
        "  supervisors /team (one_for_one, 3 restarts in 10 s) runs researcher, checker and writer"
    ) in header
    lines = told(out)
    assert [t for t, _, _ in lines] == sorted(t for t, _, _ in lines)

    # The lead asks the team's members, as tools; each run is drawn under its call.
    assert first(lines, "started", "lead (agent)") == 0
    for name in ("researcher", "checker", "writer"):
        assert first(lines, "calling", f"lead -> {name} ") < first(
            lines, "started", f"lead/{name} (team member)"
        )

    # The indexer crashes on its first job; the supervisor restarts it; the retry works.
    crashed = first(
        lines,
        "crashed",
        "/services/indexer (incarnation 1) on Lookup: RuntimeError: index shard 3 is corrupted",
    )
    failed = first(lines, "error", "lead/researcher <- lookup: Error: tool 'lookup' failed")
    restarted = first(lines, "restarted", "/services/indexer -> incarnation 2 (by /services)")
    answered = first(lines, "result", "lead/researcher <- lookup: 3 notes on 'supervision'")
    assert crashed < failed < answered
    assert crashed < restarted < answered
    assert first(lines, "model", "lead/researcher step 2") < answered  # the model retried

    # rm -rf is denied by the policy, never runs, and the researcher carries on.
    denied = first(
        lines, "denied", f'lead/researcher -> run_shell {{"command": "{DENIED_COMMAND}"}}'
    )
    assert "denied by policy deny-os.shell-1" in lines[denied][2]
    refused = first(lines, "error", "lead/researcher <- run_shell: The call was not allowed")
    assert "did not run" in lines[refused][2]
    assert no_shell == []
    assert denied < refused < first(lines, "finished", "lead/researcher: completed")

    # The checker breaks its budget of one tool call (its own ledger, a root named after
    # it); the lead gets an error and goes on.
    budget = first(lines, "budget", "lead/checker: over its tool_calls limit (tool_calls 2 of 1)")
    stopped = first(lines, "finished", "lead/checker: budget_exceeded")
    assert "budget 'checker' exceeded tool_calls" in lines[stopped][2]
    told_lead = first(lines, "error", "lead <- checker: sub-agent 'checker' did not complete")
    assert "budget_exceeded" in lines[told_lead][2]
    asked = first(lines, "calling", "lead -> writer ")
    assert budget < told_lead < asked
    assert stopped < told_lead

    # The writer's run fails (its model is down), crashing its worker: the team's
    # supervisor restarts it, the lead gets an error, asks again and the new worker answers.
    failed = first(lines, "finished", "lead/writer: failed, 0 tokens", asked)
    assert "ServerError: upstream down (status=503)" in lines[failed][2]
    crashed = first(lines, "crashed", "/team/writer (incarnation 1) on RunAgent: RunFailed: run ")
    assert lines[crashed][2].endswith(
        "of agent 'writer' failed: ServerError: upstream down (status=503)"
    )
    lead_told = first(
        lines,
        "error",
        "lead <- writer: team member 'writer' failed (ServerError); its supervisor restarts it",
    )
    restarted = first(lines, "restarted", "/team/writer -> incarnation 2 (by /team)")
    again = first(lines, "calling", "lead -> writer ", lead_told)
    rerun = first(lines, "started", "lead/writer (team member)", again)
    answered = first(lines, "result", "lead <- writer: Supervision keeps tools alive")
    assert failed < crashed < lead_told < again < rerun < answered
    assert crashed < restarted < again
    assert first(lines, "finished", "lead/writer: completed", rerun) < answered

    # The writer's notes are over its window: compressed before its second call.
    compressed = first(lines, "compressed", "lead/writer step 2: truncate_tool_results ")
    assert rerun < compressed < first(lines, "model", "lead/writer step 2")

    # The lead finishes last, and the summary says what happened.
    assert lines[-1][1] == "finished"
    assert lines[-1][2].startswith("lead: completed, ")
    summary = out[out.index("\nsummary\n") :].splitlines()
    statuses = [
        (m[1], m[2])
        for m in (re.match(r"^    (\S+)\s+(\S+)\s+\d+ tokens  \$\d+\.\d{6}", s) for s in summary)
        if m
    ]
    assert sorted(statuses) == [
        ("lead", "completed"),
        ("lead/checker", "budget_exceeded"),
        ("lead/researcher", "completed"),
        ("lead/writer", "completed"),
        ("lead/writer", "failed"),
    ]
    assert [s for s in summary if s.startswith("  restarts")] == [
        "  restarts      /team/writer crashed 1x, restarted 1x, now incarnation 2",
        "  restarts      /services/indexer crashed 1x, restarted 1x, now incarnation 2",
    ]
    assert (
        f'  denied        lead/researcher: run_shell {{"command": "{DENIED_COMMAND}"}} '
        "(deny-os.shell-1); it did not run"
    ) in summary
    assert "  budget stops  lead/checker: tool_calls 2 of 1" in summary
    assert any(s.startswith("  compressions  lead/writer: truncate_tool_results") for s in summary)
    total = next(s for s in summary if s.startswith("  total"))
    assert re.fullmatch(r"  total         \d+ tokens, \$0\.\d{6} \(completed\)", total)
    assert summary[-1].startswith("  answer        Supervision keeps tools alive")


async def test_demo_in_virtual_time_is_watchable(autojump_clock: trio.testing.MockClock) -> None:
    """With its delays, the demo takes a few seconds (virtual time here)."""
    del autojump_clock
    out = io.StringIO()
    start = trio.current_time()
    outcome = await run_demo(renderer=PlainRenderer(out))
    took = trio.current_time() - start
    assert 3.0 <= took <= 7.0, took
    assert outcome.ok
    view = outcome.view
    assert list(view.supervisors) == [
        "/team (one_for_one, 3 restarts in 10 s)",
        "/services (one_for_one, 3 restarts in 10 s)",
    ]
    services = {
        path: (s.restarts, s.incarnation, len(s.crashes)) for path, s in view.services.items()
    }
    assert services == {
        "/team/researcher": (0, 1, 0),
        "/team/checker": (0, 1, 0),
        "/team/writer": (1, 2, 1),
        "/services/indexer": (1, 2, 1),
    }
    assert len(view.denials) == len(view.budget_stops) == len(view.compressions) == 1
    statuses = [(run.agent, run.status) for run in view.runs.values() if run is not None]
    assert sorted(statuses) == [
        ("checker", "budget_exceeded"),
        ("lead", "completed"),
        ("researcher", "completed"),
        ("writer", "completed"),
        ("writer", "failed"),
    ]
    # Each member's run (in its worker's subtree) is drawn in place of the lead's call.
    (lead,) = view.roots
    assert outcome.result.usage.total_tokens == sum(lead.totals()[:2])
    shown = [(node.category, node.name, node.run_status) for node in lead.visible_children()]
    shown[1:3] = sorted(shown[1:3])  # asked in the same turn: either may start first
    assert shown == [
        ("llm", "gpt-4.1-mini", None),
        ("agent", "checker", "budget_exceeded"),
        ("agent", "researcher", "completed"),
        ("llm", "gpt-4.1-mini", None),
        ("agent", "writer", "failed"),
        ("llm", "gpt-4.1-mini", None),
        ("agent", "writer", "completed"),
        ("llm", "gpt-4.1-mini", None),
    ]
    calls = [(n.name, n.status, n.hidden) for n in lead.children if n.category == "tool"]
    assert sorted(calls[:2]) + calls[2:] == [
        ("checker", "error", True),
        ("researcher", "ok", True),
        ("writer", "error", True),
        ("writer", "ok", True),
    ]
    researcher = next(n for n in lead.visible_children() if n.name == "researcher")
    assert [(n.name, n.status) for n in researcher.visible_children() if n.category == "tool"] == [
        ("lookup", "error"),
        ("lookup", "ok"),
        ("run_shell", "error"),
    ]
    assert researcher.run_status == "completed"
    lines = told(out.getvalue())
    # The sub-agents run side by side: the checker stops while the researcher works.
    assert first(lines, "finished", "lead/checker") < first(lines, "finished", "lead/researcher")


def test_python_dash_m_actrio_demo_fast() -> None:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "actrio", "demo", "--fast"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 30
    assert done.stderr == ""
    verbs = {verb for _, verb, _ in told(done.stdout)}
    assert {"crashed", "restarted", "denied", "budget", "compressed", "finished"} <= verbs
    assert "\nsummary\n" in done.stdout


# ---------------------------------------------------------------- the rich view


async def test_rich_live_tree_shows_scopes_and_marks() -> None:
    rich_console = pytest.importorskip("rich.console")
    file = io.StringIO()
    console = rich_console.Console(file=file, force_terminal=True, width=200, color_system=None)
    outcome = await run_demo(fast=True, renderer=RichRenderer(console))
    assert outcome.ok
    out = file.getvalue()
    final = out[out.rindex("actrio demo\n") :]
    for text in (
        "agent lead  completed",
        "agent researcher  completed",
        "agent checker  budget_exceeded",
        "[budget: tool_calls 2 of 1]",
        "tool run_shell  error  [denied by deny-os.shell-1]",
        "tool lookup  error  Error: tool 'lookup' failed with ActorError",
        "[compressed: truncate_tool_results",
        "llm gpt-4.1-mini #1",
        "agent writer  failed  ServerError: upstream down (status=503)",
        "agent writer  completed",
        "supervisor /team (one_for_one, 3 restarts in 10 s)",
        "actor /team/researcher  running, incarnation 1\n",
        "actor /team/writer  running, incarnation 2  [restarted 1x]  [crashed: RunFailed: run ",
        "supervisor /services (one_for_one, 3 restarts in 10 s)",
        "actor /services/indexer  running, incarnation 2  [restarted 1x]",
        "[crashed: RuntimeError: index shard 3 is corrupted]",
        "\nsummary\n",
    ):
        assert text in final, text
    # A member's run is drawn in place of the tool call that asked it.
    assert "tool researcher" not in final
    assert "tool writer" not in final
    # Without a supervisor to watch, the tree has no supervisor branch.
    empty = RichRenderer(console).tree(TeamView())
    assert [str(child.label) for child in empty.children] == []


def test_pick_renderer(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert isinstance(pick_renderer(io.StringIO()), PlainRenderer)
    assert isinstance(pick_renderer(Terminal(), plain=True), PlainRenderer)
    plain = pick_renderer()  # pytest's captured stdout is no terminal
    assert isinstance(plain, PlainRenderer)
    assert plain.stream is sys.stdout
    monkeypatch.setattr(_demo_view, "rich_available", lambda: False)
    assert isinstance(pick_renderer(Terminal()), PlainRenderer)


def test_pick_renderer_draws_a_live_tree_on_a_terminal_with_rich() -> None:
    pytest.importorskip("rich")

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert _demo_view.rich_available()
    assert isinstance(pick_renderer(Terminal()), RichRenderer)


def test_rich_is_unavailable_when_it_cannot_be_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rich", None)
    assert not _demo_view.rich_available()


def test_plain_renderer_stops_writing_when_the_reader_leaves() -> None:
    class Closed(io.StringIO):
        writes = 0

        def write(self, text: str) -> int:
            Closed.writes += 1
            raise BrokenPipeError

    renderer = PlainRenderer(Closed())
    renderer.start(["one", "two"])
    renderer.finish(TeamView(), ["three"])
    renderer.stop()
    assert renderer.gone
    assert Closed.writes == 1


# ---------------------------------------------------------------- --model


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["demo", "--model", "nope"], "must look like 'provider:model'"),
        (["demo", "--model", "bogus:x"], "unknown provider 'bogus'"),
        (["demo", "--base-url", "http://127.0.0.1:9/v1"], "--base-url needs --model"),
        (["demo", "--model", "openai:gpt-4.1-mini"], "set OPENAI_API_KEY"),
        (["demo", "--model", "openai:gpt-4.1-mini", "--base-url", "ftp://x"], "base_url must"),
    ],
)
def test_demo_bad_model_exits_with_status_2(
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "usage: actrio demo" in err
    assert message in err


def test_header_names_the_model() -> None:
    assert _demo._header(None)[1] == "  models      scripted, no network (priced as gpt-4.1-mini)"
    assert _demo._header("openai:gpt-4.1-mini")[1] == "  models      openai:gpt-4.1-mini"


def test_resolve_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-key")
    assert resolve_model(None) is None
    assert resolve_model("openai:gpt-4.1-mini") == "openai:gpt-4.1-mini"
    assert resolve_model("ollama:llama3.2") == "ollama:llama3.2"  # needs no key
    adapter: Any = resolve_model("openai:gpt-4.1-mini", "http://127.0.0.1:9/v1")
    assert (adapter.model, adapter.base_url) == ("gpt-4.1-mini", "http://127.0.0.1:9/v1")
    with pytest.raises(DemoUsageError, match="--model 'x'"):
        resolve_model("x")


async def test_build_team_runs_every_agent_on_the_model_given() -> None:
    tools = make_tools(None, 0.0)  # type: ignore[arg-type]  # asked only when lookup runs
    team = build_team("openai:gpt-4.1-mini", tools)
    assert (team.name, team.strategy, team.max_restarts, team.period) == (
        "team",
        "one_for_one",
        3,
        10.0,
    )
    async with actrio.open_runtime() as rt:
        experts = await team.start(rt)
        lead = build_lead("openai:gpt-4.1-mini", experts.tools())
    researcher, checker, writer = team.agents
    agents = (lead, researcher, checker, writer)
    assert [a.model for a in agents] == ["openai:gpt-4.1-mini"] * 4
    assert [t.name for t in lead.tools] == ["researcher", "checker", "writer"]
    assert [t.name for t in researcher.tools] == ["lookup", "run_shell"]
    assert [a.budget for a in agents] == [BUDGETS[a.name] for a in agents]
    assert writer.context_window == 2_000
    scripted = (*build_team(None, tools).agents, build_lead(None, []))
    models = [a.model for a in scripted]
    assert all(isinstance(m, ScriptedModel) for m in models)
    assert len({id(m) for m in models}) == 4


class ClosingModel(FunctionModel):
    """A model object given to the demo (as ``--base-url`` gives one); records ``aclose``."""

    closed = False
    base_url = "http://127.0.0.1:9/v1"

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()
        self.closed = True


async def test_demo_runs_on_the_model_it_is_given_and_closes_it() -> None:
    asked: list[ModelRequest] = []

    def answer(request: ModelRequest) -> str:
        asked.append(request)
        return "Nothing to delegate today."

    model = ClosingModel(answer, model="tiny", provider="local")
    out = io.StringIO()
    outcome = await run_demo(fast=True, model=model, renderer=PlainRenderer(out))
    assert outcome.ok
    assert outcome.result.output == "Nothing to delegate today."
    assert len(asked) == 1
    assert [t.name for t in asked[0].tools] == ["researcher", "checker", "writer"]
    assert model.closed
    assert "  models      local:tiny at http://127.0.0.1:9/v1" in out.getvalue().splitlines()


def test_demo_exits_1_when_the_lead_fails(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = ScriptedModel([Turn.error(ServerError("overloaded", status=503, provider="x"))])
    monkeypatch.setattr(_demo, "resolve_model", lambda spec, base_url: broken)
    assert main(["demo", "--fast", "--plain"]) == 1
    out = capsys.readouterr().out
    assert re.search(r"finished\s+lead: failed, 0 tokens", out)
    assert "(failed)" in out
    assert "  answer        none (ServerError" in out


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0
    assert capsys.readouterr().out.strip() == f"actrio {actrio.__version__}"


@pytest.mark.parametrize("argv", [[], ["nope"], ["demo", "--jobs", "9"]])
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


def test_version_does_not_import_the_demo() -> None:
    code = (
        "import sys\nfrom actrio.cli import main\n"
        "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith(('actrio._demo', 'actrio.agents'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stdout.splitlines()[-1] == "[]", done.stderr


# ---------------------------------------------------------------- the view, event by event


def started(uuid: str, name: str, category: str, parent: str | None = None, **kw: Any) -> Any:
    return ScopeStarted(
        uuid=uuid,
        parent_uuid=parent,
        timestamp="",
        name=name,
        category=category,
        path=kw.pop("path", f"/{uuid}"),
        actor_id=uuid,
        **kw,
    )


def ended(uuid: str, name: str, category: str, status: Any, **kw: Any) -> Any:
    return ScopeEnded(
        uuid=uuid,
        parent_uuid=None,
        timestamp="",
        name=name,
        category=category,
        path=f"/{uuid}",
        actor_id=uuid,
        status=status,
        duration=0.0,
        **kw,
    )


def texts(lines: list[Line]) -> list[str]:
    return [str(line).split("s] ", 1)[1] for line in lines]


def test_view_tolerates_events_it_cannot_place() -> None:
    """Events about scopes, runs and actors it never saw are told without a tree node."""
    view = TeamView(start=1.0)
    view.watch_supervisor("/sup", ["/sup/worker"])
    usage = Usage(input_tokens=3, output_tokens=4)
    assert view.apply(ended("nope", "x", "tool", "ok")) == []
    assert view.apply(RunStarted(run_id="r1", agent="a", path="/gone")) == []
    assert view.runs == {"r1": None}
    assert (
        view.apply(
            actrio.agents.AgentTextDelta(run_id="r1", agent="a", path="/x", step=1, text="t")
        )
        == []
    )
    assert texts(
        view.apply(
            ModelCalled(
                run_id="r1",
                agent="a",
                path="/gone",
                step=1,
                model="m",
                finish_reason="stop",
                tool_calls=0,
                usage=usage,
                cost_usd=0.0,
            )
        )
    ) == ["model      a step 1: 3 in + 4 out tokens, $0.000000, an answer"]
    assert texts(
        view.apply(
            ToolCallEnded(
                run_id="r1", agent="a", path="/gone", step=1, call_id="c", tool="t", is_error=False
            )
        )
    ) == ["result     a <- t: "]
    denial = PolicyDecision(
        call_id="c",
        tool="t",
        capability="os.shell",
        args={"command": object()},
        allowed=False,
        policy_id="p",
        reason="no",
    )
    (line,) = texts(view.apply(denial))
    assert line.startswith("denied     ? -> t {'command': <object object")
    compressed = ContextCompressed(
        run_id="r1", agent="a", path="/gone", step=2, stage="s", tokens_before=9, tokens_after=1
    )
    assert texts(view.apply(compressed)) == ["compressed a step 2: s 9 -> 1 tokens"]
    exhausted = BudgetExhausted(path="a/b.r9/summary-2", field="usd", limit=0.5, spent=0.75)
    assert texts(view.apply(exhausted)) == [
        "budget     a/b.r9/summary-2: over its usd limit (usd 0.75 of 0.5)"
    ]
    crash = ErrorInfo(type="E", message="m")
    elsewhere = dict(actor_id="x", path="/elsewhere", incarnation=1)
    assert (
        view.apply(ActorFailed(**elsewhere, phase="receive", message_type=None, error=crash)) == []
    )
    assert view.apply(ActorRestarted(**elsewhere, supervisor_path="/", delay=0.0)) == []
    assert view.apply(ActorStarted(**elsewhere, actor_type="X", parent_id=None)) == []
    assert (
        view.apply(
            ActorStarted(
                actor_id="w", path="/sup/worker", actor_type="W", incarnation=3, parent_id=None
            )
        )
        == []
    )
    assert view.services["/sup/worker"].incarnation == 3
    assert view.apply(Mark(uuid="m", parent_uuid=None, timestamp="", name="mark")) == []
    end = RunEnded(run_id="r1", agent="a", path="/gone", status="completed", usage=usage)
    assert texts(view.apply(end)) == ["finished   a: completed, 7 tokens, $0.000000"]
    assert view.finished
    assert view.roots == []


def test_view_builds_the_tree_and_tells_ends() -> None:
    view = TeamView()
    assert view.apply(started("a", "lead", "agent", path="/a")) == []  # told once it runs
    assert texts(view.apply(RunStarted(run_id="r1", agent="lead", path="/a"))) == [
        "started    lead (agent)"
    ]
    lines = texts(
        view.apply(started("t", "search", "tool", "a", data={"q": 1}, metadata={"call_id": "c1"}))
    )
    assert lines == ['calling    lead -> search {"q": 1}']
    assert texts(view.apply(started("orphan", "search", "tool"))) == ["calling    ? -> search null"]
    assert view.apply(started("l", "m", "llm", "a", data={"run_id": "r1"})) == []  # no step
    assert view.apply(started("s", "summarize", "llm", "a", data={"run_id": "r1", "step": 2})) == []
    assert view.apply(started("f", "f", "function", "a")) == []
    summary = ended("s", "summarize", "llm", "ok", data={"input_tokens": 5, "output_tokens": 2})
    assert view.apply(summary) == []
    cancelled = ended("t", "search", "tool", "cancelled", cancel_reason="stop")
    assert texts(view.apply(cancelled)) == ["cancelled  lead/search (tool): stop"]
    failed = ended("l", "m", "llm", "error", error=ErrorInfo(type="E", message="boom"))
    assert texts(view.apply(failed)) == ["error      lead (llm): E: boom"]
    # A root ledger (no run id in its path) belongs to the root run.
    exhausted = BudgetExhausted(path="lead", field="tool_calls", limit=1, spent=2)
    assert texts(view.apply(exhausted)) == [
        "budget     lead: over its tool_calls limit (tool_calls 2 of 1)"
    ]
    root = view.roots[0]
    assert root.marks == ["budget: tool_calls 2 of 1"]
    assert root.totals() == (5, 2, 0.0)
    end = RunEnded(run_id="r1", agent="lead", path="/a", status="max_steps", reason="out of steps")
    view.apply(end)
    assert root.note == "out of steps"
    pieces = "".join(text for text, _ in row(root))
    assert (
        "agent lead  max_steps  7 tok  $0.000000  [budget: tool_calls 2 of 1]  out of steps"
        in pieces
    )


def test_rows_and_cuts() -> None:
    node = Node("m", "llm", step=3, status="ok", text="hello " * 30)
    assert "".join(t for t, _ in row(node)).startswith("✔ llm m #3  ok  ")
    crashed = Service("/s/w", crashes=["E: m"], status="crashed")
    assert (
        "".join(t for t, _ in service_row(crashed))
        == "✘ actor /s/w  crashed, incarnation 1  [crashed: E: m]"
    )
    agent = Node("lead", "agent", status="ok", run_status="completed", note="kept quiet")
    assert "".join(t for t, _ in row(agent)) == "✔ agent lead  completed"
    back = Service("/s/w", incarnation=2, restarts=1, crashes=["E: m"])
    assert "[restarted 1x]  [crashed: E: m]" in "".join(t for t, _ in service_row(back))
    assert cut("a\n b", 10) == "a b"
    assert cut("x" * 20, 10) == "xxxxxxx..."


def test_view_draws_a_team_members_run_under_the_call_that_asked_it() -> None:
    """A member's scopes start a tree of their own; ``parent_run_id`` places them."""
    view = TeamView()
    view.apply(started("a", "lead", "agent", path="/a"))
    view.apply(RunStarted(run_id="r1", agent="lead", path="/a"))
    view.apply(started("x", "other", "tool", "a"))
    view.apply(started("t1", "writer", "tool", "a"))
    view.apply(started("w1", "writer", "agent", path="/w1"))
    member = RunStarted(run_id="r2", agent="writer", path="/w1", parent_run_id="r1")
    assert texts(view.apply(member)) == ["started    lead/writer (team member)"]
    lead, first_call = view.roots[0], view._by_uuid["t1"]
    assert view.roots == [lead]
    assert first_call.hidden
    assert first_call.children == [view._by_path["/w1"]]
    # A member's ledger is a root named after it; its running run owns it.
    exhausted = BudgetExhausted(path="writer", field="usd", limit=0.5, spent=0.75)
    assert texts(view.apply(exhausted)) == [
        "budget     lead/writer: over its usd limit (usd 0.75 of 0.5)"
    ]
    view.apply(ended("t1", "writer", "tool", "error"))
    view.apply(RunEnded(run_id="r2", agent="writer", path="/w1", status="failed"))
    # The retried call gets the next run; the first call (ended, taken) is passed by.
    view.apply(started("t2", "writer", "tool", "a"))
    view.apply(started("w2", "writer", "agent", path="/w2"))
    again = RunStarted(run_id="r3", agent="writer", path="/w2", parent_run_id="r1")
    assert texts(view.apply(again)) == ["started    lead/writer (team member)"]
    view.apply(RunEnded(run_id="r3", agent="writer", path="/w2", status="completed"))
    shown = [(n.name, n.category, n.run_status) for n in lead.visible_children()]
    assert shown == [
        ("other", "tool", None),
        ("writer", "agent", "failed"),
        ("writer", "agent", "completed"),
    ]
    # With no run of its agent running, the ledger is its last run's; a slice is its agent's.
    slice_ = BudgetExhausted(path="writer/summary-2", field="usd", limit=1, spent=2)
    view.apply(slice_)
    assert view._by_path["/w2"].marks == ["budget: usd 2 of 1"]
    assert view._by_path["/w1"].marks == ["budget: usd 0.75 of 0.5"]
    ghost = BudgetExhausted(path="ghost", field="usd", limit=1, spent=2)
    assert texts(view.apply(ghost)) == ["budget     ghost: over its usd limit (usd 2 of 1)"]
    # A member run whose call cannot be found stays a tree of its own.
    view.apply(started("s", "stray", "agent", path="/s"))
    stray = RunStarted(run_id="r4", agent="stray", path="/s", parent_run_id="unknown")
    assert texts(view.apply(stray)) == ["started    stray (agent)"]
    view.apply(started("n", "nobody", "agent", path="/n"))
    nobody = RunStarted(run_id="r5", agent="nobody", path="/n", parent_run_id="r1")
    assert texts(view.apply(nobody)) == ["started    nobody (agent)"]
    view.apply(started("i", "inner", "agent", "a", path="/i"))
    inner = RunStarted(run_id="r6", agent="inner", path="/i", parent_run_id="r1")
    assert texts(view.apply(inner)) == ["started    lead/inner (agent)"]
    assert [n.name for n in view.roots] == ["lead", "stray", "nobody"]
