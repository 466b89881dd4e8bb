"""``actrio demo``: a team of agents under a supervisor, with a live tree of its scopes.

No API key and no network by default: every agent plays a script
(:class:`~actrio.testing.ScriptedModel`, priced as ``gpt-4.1-mini`` so the
costs are realistic). ``--model`` runs the same team on a real provider;
what needs no script (the tool's crash, the policy, the budgets, the small
context window) lives in the tools and the runtime, so it happens there too.
Only the writer's failed first run is scripted (its model's outage).

The team::

    lead                        asks the team's members, as tools (experts.tools())
    /team                       a Supervisor (one_for_one, 3 restarts in 10 s) of an
                                AgentWorker actor per member:
      researcher                lookup (a supervised actor), run_shell
      checker                   check_claim, with a budget of one tool call
      writer                    fetch_notes, with a small context window
    /services                   a Supervisor (one_for_one, 3 restarts in 10 s) of
      indexer                   the actor behind the lookup tool

A member's run happens in its worker's subtree, not the lead's; its
``RunStarted`` names the lead's run as ``parent_run_id``, which is how the
view draws it under the lead's tool call. Its budget is its own, at most
what the lead has left; its ledger is a root named after it.

What happens:

- ``lookup`` asks the ``indexer`` actor under the ``/services`` supervisor.
  Its first incarnation crashes on its first job; the supervisor restarts
  it, the tool call gets an error result, the researcher retries and the
  new incarnation answers.
- The writer's model is down on its first call (a scripted 503): its run
  fails, which crashes its worker; the ``/team`` supervisor restarts it
  (``ActorRestarted`` for ``/team/writer``), the lead gets an error result,
  asks again, and the new worker answers.
- The runtime's policy allows only ``ls`` in the shell; the researcher's
  ``rm -rf /tmp/x`` is denied before it runs, and the model is told so.
- The checker's second tool call breaks its ``Budget(tool_calls=1)``: it
  stops with ``budget_exceeded`` and the lead gets an error tool result.
- The writer's notes are far over its 2,000-token window: the context is
  compressed before its next model call.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Final

import attrs
import trio

from actrio._demo_view import Renderer, TeamView, cut, pick_renderer
from actrio.adapters import ServerError
from actrio.agents import Agent, RunFailed, RunResult, Team
from actrio.context import Budget
from actrio.kernel import Actor, ActorRef, ChildSpec, Request, Supervisor, UsageError, WhichChildren
from actrio.runtime import Runtime, open_runtime
from actrio.testing import ScriptedModel, Turn
from actrio.tools import Tool, tool
from actrio.tools.official import run_shell

if TYPE_CHECKING:
    from actrio.adapters.router import Model
    from actrio.kernel import EventStream

__all__ = (
    "SHELL_POLICY",
    "TASK",
    "DemoResult",
    "DemoUsageError",
    "build_lead",
    "build_team",
    "resolve_model",
    "run_demo",
    "summary_lines",
)

SHELL_POLICY: Final = 'deny os.shell(command) if not command.argv_starts_with(["ls"])'
"""The runtime's policy: only ``ls`` may run in the shell."""

TASK: Final = "Write a short note on how supervision keeps an agent's tools alive."

PRICED_AS: Final = "gpt-4.1-mini"
"""The model name the scripted models report, so their usage has a price."""

DENIED_COMMAND: Final = "rm -rf /tmp/x"

BUDGETS: Final = {
    "lead": Budget(usd=0.05, model_calls=16, tool_calls=16),
    "researcher": Budget(model_calls=6, tool_calls=4),
    "checker": Budget(model_calls=3, tool_calls=1),
    "writer": Budget(model_calls=3, tool_calls=2),
}

MAX_RESTARTS: Final = 3
RESTART_PERIOD: Final = 10.0
"""The restart intensity of both supervisors (``/services`` and ``/team``)."""
_END_GRACE: Final = 2.0
"""Seconds the view may take to catch up with the run's last event."""


class DemoUsageError(UsageError, ValueError):
    """A bad ``actrio demo`` option; the message names it."""


# ---------------------------------------------------------------- the service


@attrs.frozen
class Lookup(Request[str]):
    """Ask the indexer about ``topic``."""

    topic: str


class Indexer(Actor[Lookup]):
    """The actor behind the ``lookup`` tool; incarnation 1 crashes on its first job."""

    def __init__(self, incarnation: int, pause: float) -> None:
        self.incarnation = incarnation
        self.pause = pause

    async def receive(self, message: Lookup) -> str:
        """Answer a lookup (or crash, the first time)."""
        await trio.sleep(0.2 * self.pause)
        if self.incarnation == 1:
            raise RuntimeError("index shard 3 is corrupted")
        return (
            f"3 notes on {message.topic!r}: a supervisor restarts a crashed child; "
            f"restarts are bounded ({MAX_RESTARTS} in {RESTART_PERIOD:g} s here); "
            "the caller just retries."
        )


class IndexerFactory:
    """Makes each incarnation of the indexer, numbering them."""

    def __init__(self, pause: float) -> None:
        self.pause = pause
        self.made = 0

    def __call__(self) -> Indexer:
        self.made += 1
        return Indexer(self.made, self.pause)


# ---------------------------------------------------------------- the agents


@attrs.frozen
class Tools:
    """The team's tools."""

    lookup: Tool
    check_claim: Tool
    fetch_notes: Tool


def make_tools(indexer: ActorRef[Lookup], pause: float) -> Tools:
    """The tools, ``lookup`` asking ``indexer``; each sleeps ``pause`` times a little."""

    @tool
    async def lookup(topic: str) -> str:
        """Look a topic up in the team's index (served by a supervised actor).

        Args:
            topic: What to look up.
        """
        await trio.sleep(0.2 * pause)
        return await indexer.ask(Lookup(topic))

    @tool
    async def check_claim(claim: str) -> str:
        """Check one claim against the index.

        Args:
            claim: The claim.
        """
        await trio.sleep(0.25 * pause)
        supported = "restart" in claim and "unlimited" not in claim
        return f"{claim!r}: {'supported' if supported else 'not supported'} by the index"

    @tool
    async def fetch_notes(topic: str) -> str:
        """Fetch the team's notes on a topic (long).

        Args:
            topic: The topic.
        """
        await trio.sleep(0.3 * pause)
        return "\n".join(
            f"note {i:03d} on {topic}: a supervisor watched its child, which crashed "
            "and came back as a new incarnation"
            for i in range(1, 151)
        )

    return Tools(lookup=lookup, check_claim=check_claim, fetch_notes=fetch_notes)


_FINDINGS: Final = (
    "Findings: the index crashed on the first lookup; its supervisor restarted it and the "
    "retry found 3 notes. Clearing /tmp/x was refused by the policy, so nothing was deleted."
)
_DRAFT: Final = (
    "Supervision keeps tools alive: when the actor behind a tool crashes, its supervisor "
    "restarts it within a restart budget, and the agent simply retries the call."
)


def _scripts(pause: float) -> dict[str, ScriptedModel]:
    """One script per agent; ``pause`` scales every delay (0: none)."""

    def model(*turns: Turn) -> ScriptedModel:
        return ScriptedModel(turns, model=PRICED_AS)

    p = pause
    return {
        "lead": model(
            Turn.tool_calls(
                [
                    ("researcher", {"input": "Find facts on supervision; clear /tmp/x."}),
                    (
                        "checker",
                        {
                            "input": "Check: 'supervisors restart crashed actors', "
                            "'restarts are unlimited'."
                        },
                    ),
                ],
                text="Asking the researcher and the checker at once.",
                delay=0.25 * p,
            ),
            Turn.tool_call("writer", {"input": f"Write the note. {_FINDINGS}"}, delay=0.3 * p),
            Turn.tool_call(
                "writer",
                {"input": f"Write the note. {_FINDINGS}"},
                text="The writer crashed and was restarted; asking again.",
                delay=0.2 * p,
            ),
            Turn.text(
                f"{_DRAFT} (The fact-check stopped at its budget.)", chunks=6, delay=0.08 * p
            ),
        ),
        "researcher": model(
            Turn.tool_call("lookup", {"topic": "supervision"}, delay=0.25 * p),
            Turn.tool_call(
                "lookup", {"topic": "supervision"}, text="It failed; once more.", delay=0.2 * p
            ),
            Turn.tool_call("run_shell", {"command": DENIED_COMMAND}, delay=0.25 * p),
            Turn.text(_FINDINGS, chunks=5, delay=0.08 * p),
        ),
        "checker": model(
            Turn.tool_call(
                "check_claim", {"claim": "supervisors restart crashed actors"}, delay=0.3 * p
            ),
            Turn.tool_call("check_claim", {"claim": "restarts are unlimited"}, delay=0.3 * p),
            Turn.text("Both claims checked.", delay=0.1 * p),
        ),
        "writer": model(
            Turn.error(ServerError("upstream down", status=503), delay=0.2 * p),
            Turn.tool_call("fetch_notes", {"topic": "supervision"}, delay=0.25 * p),
            Turn.text(_DRAFT, chunks=6, delay=0.08 * p),
        ),
    }


def _model_of(model: Model | str | None, name: str, pause: float) -> Model | str:
    """``model``, or ``name``'s script if it is ``None``."""
    return _scripts(pause)[name] if model is None else model


def build_team(model: Model | str | None, tools: Tools, *, pause: float = 1.0) -> Team:
    """The team of researcher, checker and writer under the ``/team`` supervisor.

    Args:
        model: What every member runs on (a model string or an adapter);
            ``None`` gives each its script.
        tools: The tools (:func:`make_tools`).
        pause: Scales the scripts' delays (0 for no delay).
    """

    def model_of(name: str) -> Model | str:
        return _model_of(model, name, pause)

    researcher: Agent[Any] = Agent(
        "researcher",
        "You research with the lookup tool (an index served by a supervised actor: if a "
        "call fails, call it again once). Then clear the scratch directory by running "
        f"`{DENIED_COMMAND}` with run_shell; if it is refused, say so and go on. "
        "Answer with your findings in two sentences.",
        model_of("researcher"),
        tools=[tools.lookup, run_shell],
        budget=BUDGETS["researcher"],
        description="Finds facts with the index; may use the shell.",
    )
    checker: Agent[Any] = Agent(
        "checker",
        "Check each claim you are given with check_claim: one call per claim, one claim "
        "per turn. Answer with a verdict for each.",
        model_of("checker"),
        tools=[tools.check_claim],
        budget=BUDGETS["checker"],
        description="Checks claims, one tool call each.",
    )
    writer: Agent[Any] = Agent(
        "writer",
        "Write the note you are asked for. First fetch the team's notes with fetch_notes, "
        "then write at most three sentences.",
        model_of("writer"),
        tools=[tools.fetch_notes],
        budget=BUDGETS["writer"],
        description="Writes the note from the team's notes.",
        context_window=2_000,
        max_tokens=300,
        max_tool_result_chars=1_500,
        summarize=False,
    )
    return Team(
        "team",
        [researcher, checker, writer],
        strategy="one_for_one",
        max_restarts=MAX_RESTARTS,
        period=RESTART_PERIOD,
    )


def build_lead(model: Model | str | None, members: list[Tool], *, pause: float = 1.0) -> Agent[Any]:
    """The lead, asking the team's ``members`` (``experts.tools()`` of the started team).

    Args:
        model: What it runs on; ``None`` gives it its script.
        members: A tool per team member.
        pause: Scales the script's delays (0 for no delay).
    """
    return Agent(
        "lead",
        "You lead a small team writing a short note. First call researcher and checker in "
        "the same turn (checker: the claims 'supervisors restart crashed actors' and "
        "'restarts are unlimited'). Then call writer with the findings; if the writer "
        "fails, its supervisor restarts it, so call it once more. If a helper fails "
        "otherwise, carry on without it. Finish with the note, in at most four sentences.",
        _model_of(model, "lead", pause),
        tools=members,
        budget=BUDGETS["lead"],
    )


def resolve_model(spec: str | None, base_url: str | None = None) -> Model | str | None:
    """Check ``--model`` / ``--base-url``; return what the agents run on.

    Returns:
        ``None`` (scripts) without ``--model``; the model string itself
        (the runtime makes and closes its adapter); with ``--base-url``, an
        adapter for that server (the demo closes it).

    Raises:
        DemoUsageError: A bad model string or URL, ``--base-url`` alone, or
            a provider whose API key is not set.
    """
    if spec is None:
        if base_url is not None:
            raise DemoUsageError("--base-url needs --model (the model the server serves)")
        return None
    from actrio.adapters.router import PROVIDERS, from_model_string  # noqa: PLC0415 - httpx

    try:
        adapter = from_model_string(spec, base_url=base_url)
    except ValueError as error:  # ModelStringError, or a bad base URL
        raise DemoUsageError(f"--model {spec!r}: {error}") from error
    if base_url is not None:
        return adapter
    keys = PROVIDERS[spec.partition(":")[0].lower()].api_key_env
    if keys and not any(os.environ.get(key) for key in keys):
        raise DemoUsageError(
            f"--model {spec!r}: set {' or '.join(keys)} (no API key is needed without --model)"
        )
    return spec


# ---------------------------------------------------------------- running


@attrs.frozen
class DemoResult:
    """What the demo did.

    Attributes:
        result: The lead's run.
        view: Everything the view saw.
    """

    result: RunResult[Any]
    view: TeamView

    @property
    def ok(self) -> bool:
        """Whether the lead completed."""
        return self.result.ok


def _header(model: Model | str | None) -> list[str]:
    if model is None:
        models = f"scripted, no network (priced as {PRICED_AS})"
    elif isinstance(model, str):
        models = model
    else:
        models = f"{model.provider}:{model.model} at {getattr(model, 'base_url', '?')}"

    def budget(name: str, b: Budget) -> str:
        limits = f"{name} {b.model_calls}/{b.tool_calls}"
        return limits + (f" ${b.usd:g}" if b.usd is not None else "")

    return [
        "actrio demo: a lead agent and a team of three agents under a supervisor, "
        "each scope an actor",
        f"  models      {models}",
        f"  policy      {SHELL_POLICY}",
        f"  supervisors {_supervisor('/team')} runs researcher, checker and writer",
        f"              {_supervisor('/services')} runs the indexer behind the lookup tool",
        "  budgets     model/tool calls: "
        + ", ".join(budget(name, b) for name, b in BUDGETS.items())
        + " (a member: at most what the lead has left)",
        f"  task        {TASK}",
        "",
    ]


def _supervisor(path: str) -> str:
    return f"{path} (one_for_one, {MAX_RESTARTS} restarts in {RESTART_PERIOD:g} s)"


def summary_lines(view: TeamView, result: RunResult[Any]) -> list[str]:
    """What happened, after the run: each run's end, then the notable events."""
    lines = ["", "summary", "  runs"]
    for ended in [e for e in view.runs.values() if e is not None]:
        node = view.run_nodes.get(ended.run_id)
        name = node.label() if node is not None else ended.agent
        tokens = ended.usage.input_tokens + ended.usage.output_tokens
        text = f"    {name:<18} {ended.status:<16} {tokens:>6} tokens  ${ended.cost_usd:.6f}"
        text += f"  {ended.steps} step{'' if ended.steps == 1 else 's'}"
        if ended.reason:
            text += f"  ({cut(ended.reason, 100)})"
        lines.append(text)
    services = [
        f"{s.path} crashed {len(s.crashes)}x, restarted {s.restarts}x, "
        f"now incarnation {s.incarnation}"
        for s in view.services.values()
        if s.crashes or s.restarts
    ]
    for title, items in (
        ("restarts", services),
        ("denied", view.denials),
        ("budget stops", view.budget_stops),
        ("compressions", view.compressions),
    ):
        lines.extend(f"  {title:<13} {item}" for item in items or ["none"])
    tokens = result.usage.input_tokens + result.usage.output_tokens
    lines.append(f"  {'total':<13} {tokens} tokens, ${result.cost_usd:.6f} ({result.status})")
    answer = str(result.output) if result.ok else f"none ({result.reason})"
    lines.append(f"  {'answer':<13} {cut(answer, 400)}")
    return lines


async def _follow(
    events: EventStream, view: TeamView, renderer: Renderer, done: trio.Event
) -> None:
    """Feed every event to the view until the lead's run has ended."""
    async for event in events:  # pragma: no branch - ends at the lead's RunEnded
        renderer.update(view, view.apply(event))
        if view.finished:
            break
    done.set()


async def run_demo(
    *,
    fast: bool = False,
    model: Model | str | None = None,
    renderer: Renderer | None = None,
    plain: bool = False,
) -> DemoResult:
    """Run the demo; return the lead's result and what the view saw.

    Args:
        fast: No delays (the scripts and tools answer at once).
        model: What the agents run on (:func:`resolve_model`); ``None``: scripts.
        renderer: How to draw it; by default the live tree on a terminal
            with ``rich``, plain lines otherwise.
        plain: With no ``renderer``: plain lines even on a terminal.
    """
    pause = 0.0 if fast else 1.0
    draw = renderer if renderer is not None else pick_renderer(plain=plain)
    try:
        async with open_runtime(policies=SHELL_POLICY) as rt:
            supervisor = await rt.system.spawn(
                Supervisor(
                    [ChildSpec("indexer", IndexerFactory(pause))],
                    strategy="one_for_one",
                    max_restarts=MAX_RESTARTS,
                    period=RESTART_PERIOD,
                ),
                name="services",
            )
            (indexer,) = await supervisor.ask(WhichChildren())
            assert indexer.ref is not None
            team = build_team(model, make_tools(indexer.ref, pause), pause=pause)
            experts = await team.start(rt)
            lead = build_lead(model, experts.tools(), pause=pause)
            view = TeamView(start=trio.current_time())
            for sup in (experts.supervisor, supervisor):
                children = await sup.ask(WhichChildren())
                paths = [child.ref.path for child in children if child.ref is not None]
                view.watch_supervisor(_supervisor(sup.path), paths)
            draw.start(_header(model))
            result = await _watch(rt, lead, view, draw)
            draw.finish(view, summary_lines(view, result))
    finally:
        draw.stop()
        await _close(model)
    return DemoResult(result=result, view=view)


async def _watch(
    rt: Runtime, lead: Agent[Any], view: TeamView, renderer: Renderer
) -> RunResult[Any]:
    """Run the lead while the view follows every event of the runtime."""
    done = trio.Event()
    async with (
        rt.system.stream(capacity=4096, name="demo-view") as events,
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(_follow, events, view, renderer, done)
        try:
            result = await rt.run(lead, TASK)
        except RunFailed as failed:
            result = failed.result
        with trio.move_on_after(_END_GRACE):
            await done.wait()
        nursery.cancel_scope.cancel()
    return result


async def _close(model: Model | str | None) -> None:
    """Close an adapter the demo was given (a model string's is the runtime's)."""
    aclose = getattr(model, "aclose", None)
    if aclose is not None:
        with trio.move_on_after(_END_GRACE, shield=True):
            await aclose()
