"""The view of ``actrio demo``: a tree of scopes built from the runtime's events.

:class:`TeamView` folds events into a tree (Agent / Llm / Tool scopes,
nested by ``parent_uuid``), plus the supervised actors, and returns a plain
line for each event worth telling. A team member's run happens in its
worker's subtree, so its scopes start a tree of their own; its
``RunStarted`` names the caller's run (``parent_run_id``), and the view draws
it in place of the caller's tool call that asked it. Two renderers draw it:

- :class:`PlainRenderer` prints those lines (no ANSI codes): when stdout is
  not a terminal, or ``rich`` is not installed;
- :class:`RichRenderer` redraws the tree with ``rich`` (the ``cli`` extra).
  It is driven by the events (``auto_refresh=False``), so it starts no
  thread of its own.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
import sys
import time
from typing import TYPE_CHECKING, Any, Final, Protocol, TextIO

import attrs

from actrio.actors import PolicyDecision
from actrio.agents import (
    AgentTextDelta,
    ContextCompressed,
    ModelCalled,
    RunEnded,
    RunStarted,
    ToolCallEnded,
)
from actrio.context import BudgetExhausted
from actrio.events import ScopeEnded, ScopeStarted
from actrio.kernel import ActorFailed, ActorRestarted, ActorStarted

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from actrio.kernel import Event

__all__ = (
    "Line",
    "Node",
    "PlainRenderer",
    "Renderer",
    "RichRenderer",
    "Service",
    "TeamView",
    "pick_renderer",
)

_CUT: Final = 90
"""Characters of a tool's arguments or output a line shows."""

_REFRESH: Final = 0.05
"""Seconds between two redraws of the live tree (the last state is always drawn)."""


def cut(text: str, limit: int = _CUT) -> str:
    """``text`` on one line, at most ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _json(value: Any) -> str:
    try:
        return json.dumps(value, sort_keys=True)
    except (TypeError, ValueError):
        return repr(value)


@attrs.frozen
class Line:
    """One thing that happened, as the plain view tells it.

    Attributes:
        time: Seconds since the demo started.
        verb: What happened (``started``, ``denied``, ``restarted`` ...).
        text: Who and how.
    """

    time: float
    verb: str
    text: str

    def __str__(self) -> str:
        return f"[{self.time:6.2f}s] {self.verb:<10} {self.text}"


@attrs.define(eq=False)
class Node:
    """A scope in the tree.

    Attributes:
        name: The scope's name (the agent, tool or model).
        category: ``agent``, ``llm``, ``tool`` (or another scope type).
        parent: The enclosing scope's node.
        path: The scope's actor path.
        status: ``running``, ``ok``, ``error`` or ``cancelled``.
        children: The scopes opened inside it, in start order.
        input_tokens: Input tokens of its model call (Llm scopes).
        output_tokens: Output tokens of its model call.
        cost_usd: The call's cost.
        step: The agent's step, for a model call.
        marks: Denials, budget stops, compressions seen on it.
        note: The error, the cancel reason, or the tool's output.
        text: The answer streamed by a model call.
        run_status: How the agent's run ended (agent scopes).
        hidden: A tool call that asked a team member: the member's run is
            shown in its place.
    """

    name: str
    category: str
    parent: Node | None = None
    path: str = ""
    status: str = "running"
    children: list[Node] = attrs.Factory(list)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    step: int | None = None
    marks: list[str] = attrs.Factory(list)
    note: str = ""
    text: str = ""
    run_status: str | None = None
    hidden: bool = False

    def visible_children(self) -> Iterator[Node]:
        """The children to draw: a hidden tool scope is replaced by the member's run."""
        for child in self.children:
            if child.hidden:
                yield from child.visible_children()
            else:
                yield child

    def label(self) -> str:
        """``lead/researcher``: the agents (and tools) from the root to this scope."""
        names: list[str] = []
        node: Node | None = self
        while node is not None:
            if not node.hidden and node.category != "llm":
                names.append(node.name)
            node = node.parent
        return "/".join(reversed(names))

    def totals(self) -> tuple[int, int, float]:
        """Input tokens, output tokens and cost of this scope and everything under it."""
        tokens_in, tokens_out, cost = self.input_tokens, self.output_tokens, self.cost_usd
        for child in self.children:
            more = child.totals()
            tokens_in, tokens_out, cost = tokens_in + more[0], tokens_out + more[1], cost + more[2]
        return tokens_in, tokens_out, cost


@attrs.define(eq=False)
class Service:
    """A supervised actor: the indexer, or a team member's worker.

    Attributes:
        path: Its actor path.
        incarnation: The running incarnation.
        restarts: Restarts so far.
        crashes: The errors that crashed it.
        status: ``running`` or ``crashed`` (until restarted).
    """

    path: str
    incarnation: int = 1
    restarts: int = 0
    crashes: list[str] = attrs.Factory(list)
    status: str = "running"


class TeamView:
    """The demo's state, folded from events: scopes, runs, services and what happened.

    Args:
        start: The time (trio's clock) lines count from.
    """

    def __init__(self, *, start: float = 0.0) -> None:
        self.start = start
        self.roots: list[Node] = []
        self.services: dict[str, Service] = {}
        self.supervisors: dict[str, list[str]] = {}  # description -> its children's paths
        self.runs: dict[str, RunEnded | None] = {}  # run id -> its end, in start order
        self.run_nodes: dict[str, Node] = {}
        self.finished = False
        self.denials: list[str] = []
        self.budget_stops: list[str] = []
        self.compressions: list[str] = []
        self._by_uuid: dict[str, Node] = {}
        self._by_path: dict[str, Node] = {}
        self._calls: dict[tuple[str, str], Node] = {}  # (agent path, call id) -> Tool scope
        self._llm: dict[tuple[str, int], Node] = {}  # (run id, step) -> its Llm scope
        self._handlers: dict[type[Any], Callable[[Any], list[tuple[str, str]]]] = {
            ScopeStarted: self._started,
            ScopeEnded: self._ended,
            RunStarted: self._run_started,
            RunEnded: self._run_ended,
            ModelCalled: self._model_called,
            ToolCallEnded: self._tool_ended,
            AgentTextDelta: self._text,
            PolicyDecision: self._decided,
            ContextCompressed: self._compressed,
            BudgetExhausted: self._budget,
            ActorStarted: self._actor_started,
            ActorFailed: self._actor_failed,
            ActorRestarted: self._actor_restarted,
        }

    def watch_supervisor(self, description: str, children: Sequence[str]) -> None:
        """Show a supervisor (``description``) and its children's actor paths."""
        self.supervisors[description] = list(children)
        for path in children:
            self.services[path] = Service(path)

    def apply(self, event: Event) -> list[Line]:
        """Fold ``event`` in; return the lines it is worth (often none)."""
        handler = self._handlers.get(type(event))
        told = handler(event) if handler is not None else []
        at = event.time - self.start
        return [Line(at, verb, text) for verb, text in told]

    # -- scopes and the agent loop --

    def _run_started(self, event: RunStarted) -> list[tuple[str, str]]:
        self.runs[event.run_id] = None
        node = self._by_path.get(event.path)
        if node is None:
            return []
        self.run_nodes[event.run_id] = node
        call = None
        if event.parent_run_id is not None and node.parent is None:
            call = self._member_call(event.parent_run_id, event.agent)
        if call is not None:  # a team member: drawn in place of the call that asked it
            self.roots.remove(node)
            node.parent, call.hidden = call, True
            call.children.append(node)
        return [("started", f"{node.label()} ({'agent' if call is None else 'team member'})")]

    def _member_call(self, caller_run_id: str, agent: str) -> Node | None:
        """The caller's running tool call of ``agent`` with no member's run under it yet."""
        caller = self.run_nodes.get(caller_run_id)
        calls = caller.children if caller is not None else []
        wanted = ("tool", agent, "running", False)
        return next((c for c in calls if (c.category, c.name, c.status, c.hidden) == wanted), None)

    def _text(self, event: AgentTextDelta) -> list[tuple[str, str]]:
        node = self._by_path.get(event.path)
        if node is not None:
            node.text += event.text
        return []

    def _started(self, event: ScopeStarted) -> list[tuple[str, str]]:
        parent = self._by_uuid.get(event.parent_uuid or "")
        node = Node(event.name, event.category, parent, event.path)
        self._by_uuid[event.uuid] = node
        self._by_path[event.path] = node
        (parent.children if parent is not None else self.roots).append(node)
        data = event.data if isinstance(event.data, dict) else {}
        if event.category == "llm":
            step = data.get("step")
            node.step = step if isinstance(step, int) else None
            if node.step is not None and event.name != "summarize":
                self._llm[(str(data.get("run_id")), node.step)] = node
            return []
        if event.category == "tool":
            metadata = event.metadata if isinstance(event.metadata, dict) else {}
            # Call ids are the model's: unique per agent, not across agents.
            self._calls[
                (parent.path if parent is not None else "", str(metadata.get("call_id")))
            ] = node
            where = parent.label() if parent is not None else "?"
            return [("calling", f"{where} -> {event.name} {cut(_json(event.data))}")]
        return []  # an agent is told at its RunStarted, once it is placed

    def _ended(self, event: ScopeEnded) -> list[tuple[str, str]]:
        node = self._by_uuid.get(event.uuid)
        if node is None:
            return []
        node.status = event.status
        if event.error is not None:
            node.note = f"{event.error.type}: {event.error.message}"
        elif event.cancel_reason:
            node.note = event.cancel_reason
        if event.category == "llm" and event.name == "summarize":
            data = event.data if isinstance(event.data, dict) else {}
            node.input_tokens = int(data.get("input_tokens") or 0)
            node.output_tokens = int(data.get("output_tokens") or 0)
        if event.status == "ok" or (event.status == "error" and event.category != "llm"):
            return []  # told by ModelCalled, ToolCallEnded and RunEnded
        where = node.label() + (f" step {node.step}" if node.step is not None else "")
        return [(event.status, f"{where} ({event.category}): {cut(node.note)}")]

    def _run_ended(self, event: RunEnded) -> list[tuple[str, str]]:
        self.runs[event.run_id] = event
        node = self.run_nodes.get(event.run_id)
        if node is not None:
            node.run_status = event.status
            if event.reason:
                node.note = event.reason
        if event.parent_run_id is None:
            self.finished = True
        usage = event.usage
        text = (
            f"{node.label() if node is not None else event.agent}: {event.status}, "
            f"{usage.input_tokens + usage.output_tokens} tokens, ${event.cost_usd:.6f}"
        )
        if event.reason:
            text += f" ({cut(event.reason)})"
        return [("finished", text)]

    def _model_called(self, event: ModelCalled) -> list[tuple[str, str]]:
        node = self._llm.get((event.run_id, event.step))
        if node is not None:
            node.input_tokens = event.usage.input_tokens
            node.output_tokens = event.usage.output_tokens
            node.cost_usd = event.cost_usd
        agent = self._by_path.get(event.path)
        what = f"{event.tool_calls} tool call(s)" if event.tool_calls else "an answer"
        return [
            (
                "model",
                f"{agent.label() if agent is not None else event.agent} step {event.step}: "
                f"{event.usage.input_tokens} in + {event.usage.output_tokens} out tokens, "
                f"${event.cost_usd:.6f}, {what}",
            )
        ]

    def _tool_ended(self, event: ToolCallEnded) -> list[tuple[str, str]]:
        node = self._calls.get((event.path, event.call_id))
        if node is not None:
            node.note = event.output
        agent = self._by_path.get(event.path)
        where = agent.label() if agent is not None else event.agent
        verb = "error" if event.is_error else "result"
        return [(verb, f"{where} <- {event.tool}: {cut(event.output)}")]

    # -- policies, budgets, compression and the supervised services --

    def _decided(self, event: PolicyDecision) -> list[tuple[str, str]]:
        if event.allowed or event.cancelled:  # cancelled: stopped before a decision
            return []
        node = self._by_uuid.get(event.scope_uuid or "")
        if node is not None:
            node.marks.append(f"denied by {event.policy_id}")
        where = node.parent.label() if node is not None and node.parent is not None else "?"
        what = f"{event.tool} {cut(_json(event.args))}"
        self.denials.append(f"{where}: {what} ({event.policy_id}); it did not run")
        return [("denied", f"{where} -> {what}: {cut(event.reason, 160)}")]

    def _compressed(self, event: ContextCompressed) -> list[tuple[str, str]]:
        node = self._by_path.get(event.path)
        what = f"{event.stage} {event.tokens_before} -> {event.tokens_after} tokens"
        where = node.label() if node is not None else event.agent
        if node is not None:
            node.marks.append(f"compressed: {what}")
        self.compressions.append(f"{where}: {what}")
        return [("compressed", f"{where} step {event.step}: {what}")]

    def _actor_started(self, event: ActorStarted) -> list[tuple[str, str]]:
        service = self.services.get(event.path)
        if service is not None:
            service.incarnation = event.incarnation
        return []

    def _actor_failed(self, event: ActorFailed) -> list[tuple[str, str]]:
        service = self.services.get(event.path)
        if service is None:
            return []
        crash = f"{event.error.type}: {event.error.message}"
        service.crashes.append(crash)
        service.status = "crashed"
        where = f"{event.path} (incarnation {event.incarnation})"
        return [("crashed", f"{where} on {event.message_type}: {cut(crash, 160)}")]

    def _actor_restarted(self, event: ActorRestarted) -> list[tuple[str, str]]:
        service = self.services.get(event.path)
        if service is None:
            return []
        service.incarnation = event.incarnation
        service.restarts += 1
        service.status = "running"
        text = f"{event.path} -> incarnation {event.incarnation} (by {event.supervisor_path})"
        return [("restarted", text)]

    def _budget(self, event: BudgetExhausted) -> list[tuple[str, str]]:
        node = self._agent_for_ledger(event.path)
        what = f"{event.field} {event.spent:g} of {event.limit:g}"
        where = node.label() if node is not None else event.path
        if node is not None:
            node.marks.append(f"budget: {what}")
        self.budget_stops.append(f"{where}: {what}")
        return [("budget", f"{where}: over its {event.field} limit ({what})")]

    def _agent_for_ledger(self, path: str) -> Node | None:
        """The run owning the budget ledger at ``path``.

        Each run's ledger is a root named after its agent: ``lead``, and for
        a team member its own name (``checker``), not ``lead/checker``.
        Deeper segments are slices of that run's (``writer/summary-3``). Of
        a member's runs, the one still running owns it.
        """
        name = path.split("/", 1)[0]
        owners = [node for node in self.run_nodes.values() if node.name == name]
        if not owners:
            return None
        return next((node for node in owners if node.run_status is None), owners[-1])


# ---------------------------------------------------------------- drawing


_STYLES: Final = {"running": "yellow", "ok": "green", "error": "red", "cancelled": "magenta"}
_RICH_ICONS: Final = {"running": "●", "ok": "✔", "error": "✘", "cancelled": "■"}


def row(node: Node) -> list[tuple[str, str]]:
    """One tree line for ``node``, as ``(text, rich style)`` pieces."""
    status = node.run_status or node.status
    icon = _RICH_ICONS.get(node.status, "?")
    style = _STYLES.get(node.status, "")
    if node.category == "agent" and node.run_status not in (None, "completed"):
        style = "red"
    title = node.name if node.step is None else f"{node.name} #{node.step}"
    pieces = [
        (f"{icon} ", style),
        (f"{node.category} ", "dim"),
        (title, "bold"),
        (f"  {status}", style),
    ]
    tokens_in, tokens_out, cost = node.totals()
    if tokens_in or tokens_out:
        pieces.append((f"  {tokens_in + tokens_out} tok  ${cost:.6f}", "cyan"))
    pieces.extend((f"  [{mark}]", "bold red") for mark in node.marks)
    detail = node.text if node.category == "llm" else node.note
    if node.category == "agent" and node.run_status in (None, "completed", "budget_exceeded"):
        detail = ""  # a budget stop is a mark already
    if detail:
        pieces.append((f"  {cut(detail, 60)}", "dim"))
    return pieces


def service_row(service: Service) -> list[tuple[str, str]]:
    """One tree line for a supervised actor."""
    style = _STYLES["ok"] if service.status == "running" else _STYLES["error"]
    pieces = [
        (f"{_RICH_ICONS['ok'] if service.status == 'running' else _RICH_ICONS['error']} ", style),
        ("actor ", "dim"),
        (service.path, "bold"),
        (f"  {service.status}, incarnation {service.incarnation}", style),
    ]
    if service.restarts:
        pieces.append((f"  [restarted {service.restarts}x]", "bold yellow"))
    pieces.extend((f"  [crashed: {cut(crash, 100)}]", "bold red") for crash in service.crashes)
    return pieces


class Renderer(Protocol):
    """What draws the demo: a header, then every event, then a summary."""

    def start(self, header: Sequence[str]) -> None:
        """Show the header; start drawing."""

    def update(self, view: TeamView, lines: Sequence[Line]) -> None:
        """``view`` changed; ``lines`` say how."""

    def finish(self, view: TeamView, summary: Sequence[str]) -> None:
        """Draw the final state and the summary."""

    def stop(self) -> None:
        """Stop drawing (idempotent; also after an error)."""


class PlainRenderer:
    """Plain lines, one per event of interest; no ANSI codes, no redrawing.

    Args:
        stream: Where to write (standard output by default).
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.gone = False

    def _write(self, text: str) -> None:
        if self.gone:
            return
        try:
            self.stream.write(text + "\n")
            self.stream.flush()
        except BrokenPipeError:  # `actrio demo | head`: the reader left; the run goes on
            self.gone = True

    def start(self, header: Sequence[str]) -> None:
        """Print the header."""
        for text in header:
            self._write(text)

    def update(self, view: TeamView, lines: Sequence[Line]) -> None:
        """Print the lines."""
        del view
        for line in lines:
            self._write(str(line))

    def finish(self, view: TeamView, summary: Sequence[str]) -> None:
        """Print the summary."""
        del view
        for text in summary:
            self._write(text)

    def stop(self) -> None:
        """Nothing to stop."""


def rich_available() -> bool:
    """Whether ``rich`` (the ``cli`` extra) can be imported."""
    return importlib.util.find_spec("rich") is not None


class RichRenderer:
    """A live tree of the scopes, redrawn with ``rich`` as events arrive.

    ``rich`` is imported here (not at module level), so the demo runs
    without it.

    Args:
        console: A ``rich.console.Console`` (a new one on standard output by default).
    """

    def __init__(self, console: Any = None) -> None:
        self._rich = {
            name: importlib.import_module(f"rich.{name}")
            for name in ("console", "live", "text", "tree")
        }
        self.console = console if console is not None else self._rich["console"].Console()
        self._live: Any = None
        self._drawn = -math.inf

    def start(self, header: Sequence[str]) -> None:
        """Print the header and start the live display."""
        for text in header:
            self.console.print(text, markup=False, highlight=False)
        self._live = self._rich["live"].Live(
            console=self.console,
            auto_refresh=False,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._live.start()

    def update(self, view: TeamView, lines: Sequence[Line]) -> None:
        """Redraw the tree (at most every 50 ms)."""
        del lines
        now = time.monotonic()
        if now - self._drawn >= _REFRESH:
            self._drawn = now
            self._live.update(self.tree(view), refresh=True)

    def finish(self, view: TeamView, summary: Sequence[str]) -> None:
        """Draw the final tree, stop, print the summary."""
        self._live.update(self.tree(view), refresh=True)
        self.stop()
        for text in summary:
            self.console.print(text, markup=False, highlight=False)

    def stop(self) -> None:
        """Stop the live display (idempotent)."""
        live, self._live = self._live, None
        if live is not None:
            live.stop()

    def tree(self, view: TeamView) -> Any:
        """The ``rich.tree.Tree`` of ``view``."""
        text = self._rich["text"].Text
        tree = self._rich["tree"].Tree(text("actrio demo", style="bold"))
        for node in view.roots:
            self._add(tree, node)
        for description, paths in view.supervisors.items():
            branch = tree.add(text.assemble(("supervisor ", "dim"), (description, "bold")))
            for path in paths:
                branch.add(text.assemble(*service_row(view.services[path])))
        return tree

    def _add(self, branch: Any, node: Node) -> None:
        child = branch.add(self._rich["text"].Text.assemble(*row(node)))
        for grandchild in node.visible_children():
            self._add(child, grandchild)


def pick_renderer(stream: TextIO | None = None, *, plain: bool = False) -> Renderer:
    """The live tree on a terminal with ``rich`` installed; plain lines otherwise."""
    out = stream if stream is not None else sys.stdout
    if not plain and out.isatty() and rich_available():
        console = importlib.import_module("rich.console").Console(file=out)
        return RichRenderer(console)
    return PlainRenderer(out)
