"""The runtime: an actor system plus what instrumented work needs beside it.

:func:`open_runtime` opens an actor system and owns the global middleware
registry, the installed plugins, the tool registry, the policy actor (every
tool call asks it first), the human-in-the-loop channel and the redactor
that masks secrets. Nothing is kept in module globals, so two runtimes in
one process never see each other's tools, policies or events.
"""

from __future__ import annotations

import contextvars
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

import trio

from actrio.kernel import (
    DEFAULT_CAPACITY,
    ActorSystem,
    Event,
    EventStream,
    SubscriberMode,
    Subscription,
    UsageError,
    open_actor_system,
)
from actrio.kernel._system import DEFAULT_SHUTDOWN_GRACE
from actrio.middleware._context import global_registry_var
from actrio.middleware._exceptions import PluginError
from actrio.middleware._plugins import Plugin, PluginManager
from actrio.middleware._registry import MiddlewareRegistry
from actrio.tools._registry import ToolRegistry
from actrio.tools._results import DEFAULT_MAX_CHARS

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable, Mapping

    import httpx

    from actrio._redact import Redactor
    from actrio.actors._tool_call import ToolCallResult, ToolHost
    from actrio.adapters.cost import PriceTable
    from actrio.adapters.router import Model
    from actrio.agents._agent import Agent
    from actrio.agents._result import RunResult
    from actrio.agents._run import RunStream
    from actrio.agents._snapshot import RunSnapshot
    from actrio.agents._state import RunTree
    from actrio.context._budget import Budget
    from actrio.human import HumanChannel, Responder
    from actrio.messages import Message
    from actrio.policy._catalog import Capability
    from actrio.policy._engine import PolicyEngine
    from actrio.policy._spec import PolicySpec
    from actrio.tools._tool import Tool

__all__ = ("Runtime", "current_runtime", "open_runtime")

_current_runtime: contextvars.ContextVar[Runtime] = contextvars.ContextVar("actrio.runtime")


class Runtime:
    """What :func:`open_runtime` gives: the system, global middleware, plugins.

    Attributes:
        system: The actor system everything runs in.
        middleware: The global guardrails and intercepts.
        plugins: Install, activate and uninstall plugins.
    """

    def __init__(self, system: ActorSystem) -> None:
        self.system = system
        self.middleware = MiddlewareRegistry()
        self.plugins = PluginManager(self.middleware, system.subscribe)
        self.tools = ToolRegistry()
        self._human: HumanChannel | None = None
        self._redactor: Redactor | None = None
        self._setup: _ToolSetup | None = None
        self._host: ToolHost | None = None
        self._host_lock = trio.Lock()
        self._runs: dict[str, RunTree] = {}
        self._models: dict[str, Model] = {}
        self._prices: PriceTable | None = None

    @property
    def human(self) -> HumanChannel:
        """The human-in-the-loop channel (see :mod:`actrio.human`)."""
        if self._human is None:
            from actrio.human import HumanChannel  # noqa: PLC0415  # import time

            self._human = HumanChannel(self.system)
        return self._human

    @property
    def redactor(self) -> Redactor:
        """Masks the runtime's secrets in tool results and events."""
        if self._redactor is None:
            from actrio._redact import Redactor  # noqa: PLC0415  # import time

            self._redactor = Redactor()
        return self._redactor

    async def _tool_host(self) -> ToolHost:
        """The tool-call machinery; the policy actor starts with the first call."""
        if self._host is not None:
            return self._host
        if self._setup is None:
            raise UsageError("this Runtime was not opened by open_runtime(); it cannot call tools")
        # Shielded: starting the policy actor is quick, and a call cancelled
        # meanwhile must still reach the point where its cancellation is recorded.
        with trio.CancelScope(shield=True):
            async with self._host_lock:
                if self._host is None:  # the first call; others wait on the lock
                    self._host = await self._setup.start(self)
                host: ToolHost = self._host
        return host

    async def call_tool(
        self,
        name: str,
        arguments: str | bytes | Mapping[str, Any] = "{}",
        *,
        call_id: str | None = None,
        inputs: Mapping[str, Any] | None = None,
    ) -> ToolCallResult:
        """Call the tool ``name``: validate, ask the policies, run, render the result.

        The call runs as a Tool scope under the current scope. Its arguments
        are checked before anything else (B-01); the policy actor decides on
        them after every middleware has run, and the tool runs only if they
        allow it. Exactly one :class:`~actrio.actors.PolicyDecision` event is
        published per call that got that far.

        Args:
            name: The tool's exact name.
            arguments: JSON text, or the parsed object.
            call_id: The model's id for the call; one is made if omitted.
            inputs: The run's inputs policies may refer to (``candidate_path``).

        Returns:
            The value, the output for the model (capped, secrets masked) and
            the decision.

        Raises:
            UnknownTool: No tool has exactly that name.
            ToolArgumentsError: The arguments do not fit; nothing was decided.
            ToolDenied: The policies denied it; the tool did not run.
            ToolTimeout: The tool ran longer than its timeout.
            ToolFailed: The tool raised.
        """
        from actrio.actors._tool_call import call_tool  # noqa: PLC0415  # import time

        host = await self._tool_host()
        return await call_tool(host, name, arguments, call_id=call_id, inputs=inputs)

    async def replace_policies(self, policies: Iterable[PolicySpec] | str) -> int:
        """Install a new policy set; return its version.

        The set is compiled (and its examples checked) first, here, so one
        that fails raises and leaves the current set in force. Calls already
        decided keep their decision; every later call is decided by the new
        set, never by a mix.

        Raises:
            PolicySpecError: For a policy that does not compile.
            PolicySyntaxError: For text that does not parse.
        """
        from actrio.actors._policy import ReplacePolicies  # noqa: PLC0415  # import time

        host = await self._tool_host()
        assert self._setup is not None
        engine = self._setup.engine_for(policies)
        return await host.policies.ask(ReplacePolicies(engine))

    async def policies(self) -> PolicyEngine:
        """The policy engine in force (its ``version`` and ``policies``)."""
        from actrio.actors._policy import CurrentPolicies  # noqa: PLC0415  # import time

        host = await self._tool_host()
        return await host.policies.ask(CurrentPolicies())

    def respond(  # the answer
        self, request_id: str, answer: bool | str, *, digest: str | None = None
    ) -> None:
        """Answer a waiting ``user.confirm`` (a bool) or ``user.elicit`` (a str).

        Args:
            request_id: The ``HumanRequested`` event's ``request_id``.
            answer: A bool for ``user.confirm``, a str for ``user.elicit``.
            digest: The event's ``digest``, as the person was shown it (B-09):
                when given, the answer counts only for that exact call.

        Raises:
            UnknownHumanRequest: No such request is waiting.
            ApprovalMismatch: ``digest`` is not the request's; the request still waits.
            InvalidAnswer: The answer has the wrong type; the request still waits.
        """
        self.human.respond(request_id, answer, digest=digest)

    # -- agents --

    async def run(
        self,
        agent: Agent[Any],
        input: str | Message | Iterable[Message],
        *,
        budget: Budget | None = None,
        history: Iterable[Message] = (),
        inputs: Mapping[str, Any] | None = None,
    ) -> RunResult[Any]:
        """Run ``agent`` on ``input`` until it ends; return what it did.

        The run is an Agent scope under the current scope, with a model call
        (Llm scope) per step and a Tool scope per tool call, all actors in
        this runtime's tree. See ``docs/agents.md``.

        Args:
            agent: The agent.
            input: The user's message (text, a :class:`Message`, or several).
            budget: Limits for this run (default: the agent's).
            history: Earlier messages to continue from (system messages are
                replaced by the agent's instructions).
            inputs: Values policies may refer to (``candidate_path``).

        Returns:
            The :class:`RunResult`: ``completed``, ``cancelled`` (by
            :meth:`cancel`), ``budget_exceeded`` or ``max_steps``, with all
            completed work.

        Raises:
            RunFailed: The run stopped on an error (its ``result`` keeps the
                completed work; the error is ``__cause__``).
            UsageError: For a bad argument (an agent with no model, ...).
        """
        from actrio.agents._run import run_agent  # noqa: PLC0415  # import time

        return await run_agent(self, agent, input, budget=budget, history=history, inputs=inputs)

    def cancel(self, run_id: str, reason: str = "cancelled") -> bool:
        """Cancel the run ``run_id`` (a sub-agent's run id cancels only that sub-agent).

        Every model stream and tool call of the run is cancelled; the run
        returns a result with status ``cancelled`` and ``reason``, keeping
        its completed work.

        Returns:
            Whether such a run was running (``False`` for one that ended).
        """
        from actrio.agents._run import cancel_run  # noqa: PLC0415  # import time

        return cancel_run(self, run_id, reason)

    def interrupt(self, run_id: str, reason: str = "interrupted") -> bool:
        """Stop a run to resume it later (here or in another runtime).

        Like :meth:`cancel`, but the run's result has status
        ``interrupted`` and a ``snapshot`` (:class:`~actrio.agents.RunSnapshot`,
        serialisable with ``to_json()``) that :meth:`resume` takes. Tool
        calls that finished keep their results; those cut off run again on
        resume.

        Returns:
            Whether such a run was running.

        Raises:
            UsageError: ``run_id`` is a sub-agent's run (interrupt its root).
        """
        from actrio.agents._run import interrupt_run  # noqa: PLC0415  # import time

        return interrupt_run(self, run_id, reason)

    async def resume(self, agent: Agent[Any], snapshot: RunSnapshot) -> RunResult[Any]:
        """Go on with an interrupted run from its ``snapshot``, with the same ``agent``.

        The run keeps its id, transcript, steps, usage, cost and budget
        spent; with deterministic tools and model it ends as the
        uninterrupted run would have.

        Raises:
            SnapshotError: The snapshot's agent is neither ``agent`` nor one
                it hands off to.
            RunFailed: As for :meth:`run`.
        """
        from actrio.agents._run import resume_agent  # noqa: PLC0415  # import time

        return await resume_agent(self, agent, snapshot)

    @property
    def prices(self) -> PriceTable:
        """The prices agent runs are costed at (default: ``PriceTable.default()``).

        Set it to your own table (``PriceTable.load(path)``, or
        ``PriceTable.default().merged({...})``) to override or add models.
        """
        if self._prices is None:
            from actrio.adapters.cost import PriceTable  # noqa: PLC0415  # import time

            self._prices = PriceTable.default()
        return self._prices

    @prices.setter
    def prices(self, table: PriceTable) -> None:
        from actrio.adapters.cost import PriceTable  # noqa: PLC0415  # import time

        if not isinstance(table, PriceTable):
            raise UsageError(f"prices: expected a PriceTable, got {type(table).__name__}")
        self._prices = table

    def _model(self, spec: Model | str | None) -> Model | None:
        """The model an agent names: adapters as given, model strings made once per runtime."""
        if spec is None or not isinstance(spec, str):
            return spec
        model = self._models.get(spec)
        if model is None:
            from actrio.adapters.router import from_model_string  # noqa: PLC0415  # import time

            http = self._setup.http if self._setup is not None else None
            model = from_model_string(spec, http_client=http)
            self._models[spec] = model
        return model

    def _engine_for(self, policies: Iterable[PolicySpec]) -> PolicyEngine:
        if self._setup is None:
            raise UsageError("this Runtime was not opened by open_runtime(); it cannot run agents")
        return self._setup.engine_for(policies)

    async def _close_models(self) -> None:
        """Close the adapters made from model strings (shielded, bounded)."""
        models, self._models = list(self._models.values()), {}
        with trio.move_on_after(DEFAULT_SHUTDOWN_GRACE, shield=True):
            for model in models:
                aclose = getattr(model, "aclose", None)
                if aclose is not None:
                    await aclose()

    # -- events --

    def subscribe(
        self,
        handler: Callable[[Event], Awaitable[None] | None],
        *,
        mode: SubscriberMode = "lossless",
        capacity: int = 1024,
        max_failures: int = 3,
        types: Collection[type[Event]] | None = None,
        name: str | None = None,
    ) -> Subscription:
        """Subscribe ``handler`` to every event of the runtime (see ``ActorSystem.subscribe``)."""
        return self.system.subscribe(
            handler, mode=mode, capacity=capacity, max_failures=max_failures, types=types, name=name
        )

    @overload
    def stream(
        self,
        agent: None = None,
        input: None = None,
        /,
        *,
        mode: SubscriberMode = "lossless",
        capacity: int = 1024,
        types: Collection[type[Event]] | None = None,
    ) -> EventStream: ...
    @overload
    def stream(
        self,
        agent: Agent[Any],
        input: str | Message | Iterable[Message],
        /,
        *,
        capacity: int = 1024,
        budget: Budget | None = None,
        history: Iterable[Message] = (),
        inputs: Mapping[str, Any] | None = None,
    ) -> RunStream: ...
    def stream(
        self,
        agent: Agent[Any] | None = None,
        input: str | Message | Iterable[Message] | None = None,
        /,
        *,
        mode: SubscriberMode = "lossless",
        capacity: int = 1024,
        types: Collection[type[Event]] | None = None,
        budget: Budget | None = None,
        history: Iterable[Message] = (),
        inputs: Mapping[str, Any] | None = None,
    ) -> EventStream | RunStream:
        """Stream a run of ``agent`` on ``input``, or (with no agent) every event.

        With an agent: a :class:`~actrio.agents.RunStream` of the run's
        events (text deltas, model and tool calls, ...), ending with its
        ``RunEnded``; ``stream.result`` is then the :class:`RunResult`::

            async for event in rt.stream(agent, "Hello"):
                if isinstance(event, actrio.agents.AgentTextDelta):
                    print(event.text, end="")

        Without: every event of the runtime; use inside ``async with``::

            async with rt.stream(types=[actrio.ScopeEnded]) as events:
                async for event in events:
                    print(event.name, event.status)
        """
        if agent is None:
            if input is not None:
                raise UsageError("rt.stream(None, input): give the agent to run")
            return self.system.stream(mode=mode, capacity=capacity, types=types)
        from actrio.agents._run import stream_agent  # noqa: PLC0415  # import time

        return stream_agent(
            self,
            agent,
            input if input is not None else (),
            budget=budget,
            history=history,
            inputs=inputs,
            capacity=capacity,
        )

    def __repr__(self) -> str:
        return (
            f"<Runtime tools={list(self.tools.names())} plugins={list(self.plugins.installed())}"
            f" middleware={self.middleware!r}>"
        )


@asynccontextmanager
async def open_runtime(
    *,
    plugins: Path | str | Mapping[str, Any] | None = None,
    available_plugins: Mapping[str, Plugin | Callable[[], Plugin]] | None = None,
    mailbox_capacity: int = DEFAULT_CAPACITY,
    shutdown_grace: float = DEFAULT_SHUTDOWN_GRACE,
    tools: Iterable[Tool] = (),
    policies: Iterable[PolicySpec] | str = (),
    workspace: str | Path | None = None,
    protected: Iterable[str] | None = None,
    trusted_dirs: Iterable[str] | None = None,
    capabilities: Iterable[Capability] = (),
    human: Responder | Literal["external"] | None = None,
    human_timeout: float | None = None,
    secrets: Iterable[str] = (),
    secrets_from_env: bool = True,
    http: httpx.AsyncClient | None = None,
    max_result_chars: int = DEFAULT_MAX_CHARS,
) -> AsyncIterator[Runtime]:
    """Open a runtime; leaving the block stops everything in it.

    Args:
        plugins: Plugins to activate: a TOML file path, TOML text, or the
            parsed mapping (``[[plugins]] name = "..."`` with a ``config``
            table each).
        available_plugins: Where to find plugins by name; by default those
            installed under the ``actrio.plugins`` entry-point group.
        mailbox_capacity: Default mailbox capacity of actors.
        shutdown_grace: Seconds allowed for shutdown.
        tools: Tools to register (more with ``runtime.tools.add``).
        policies: The policy set (specs or their text form); version 0.
        workspace: The directory tools and policies take relative paths
            from (``None``: the current directory, as it is at each call).
        protected: Names no file tool writes under and policies protect
            (default: ``actrio.policy.paths.DEFAULT_PROTECTED``).
        trusted_dirs: Directories whose programs policies know by bare name
            (default: ``actrio.policy.shell.DEFAULT_TRUSTED_DIRS``).
        capabilities: Capabilities beside the catalog's, for policies.
        human: Who answers ``user.confirm`` / ``user.elicit``: ``None``
            (no one: asking fails at once), ``"external"`` (only
            ``runtime.respond``) or an async responder such as
            :class:`~actrio.human.ConsoleResponder`.
        human_timeout: Seconds a question may wait for its answer.
        secrets: Values masked in tool results and events.
        secrets_from_env: Also mask the values of credential-like
            environment variables (``*_API_KEY``, ``*TOKEN*``, ...).
        http: The HTTP client tools share (``http.fetch``).
        max_result_chars: The cap on a tool result's text for the model.

    Raises:
        PluginConfigError: For a bad plugin configuration.
        PluginError: If a plugin fails to install.
        PolicySpecError: For a policy that does not compile.
        DuplicateTool: For two tools of one name.
    """
    setup = _ToolSetup(
        workspace=workspace,
        protected=protected,
        trusted_dirs=trusted_dirs,
        capabilities=capabilities,
        http=http,
        max_result_chars=max_result_chars,
    )
    setup.engine = setup.engine_for(policies) if policies else None  # errors now, not later
    registry = ToolRegistry(tools)
    from actrio._redact import Redactor, environment_secrets  # noqa: PLC0415  # import time
    from actrio.human import HumanChannel  # noqa: PLC0415

    redactor = Redactor([*secrets, *(environment_secrets() if secrets_from_env else ())])
    async with open_actor_system(
        mailbox_capacity=mailbox_capacity, shutdown_grace=shutdown_grace
    ) as system:
        runtime = Runtime(system)
        runtime.tools = registry
        runtime._redactor = redactor
        runtime._human = HumanChannel(system, human, timeout=human_timeout)
        runtime._setup = setup
        token = _current_runtime.set(runtime)
        registry_token = global_registry_var.set(runtime.middleware)
        failure: PluginError | None = None
        try:
            if plugins is not None:
                runtime.plugins.activate(plugins, available=available_plugins)
            yield runtime
        finally:
            await runtime._close_models()
            failure = _uninstall_all(runtime)
            global_registry_var.reset(registry_token)
            _current_runtime.reset(token)
        if failure is not None:
            raise failure


class _ToolSetup:
    """What open_runtime was told about tools; the machinery starts on first use."""

    def __init__(
        self,
        *,
        workspace: str | Path | None,
        protected: Iterable[str] | None,
        trusted_dirs: Iterable[str] | None,
        capabilities: Iterable[Capability],
        http: httpx.AsyncClient | None,
        max_result_chars: int,
    ) -> None:
        self.workspace = Path(workspace).absolute() if workspace is not None else None
        self.protected = None if protected is None else tuple(protected)
        self.trusted_dirs = None if trusted_dirs is None else tuple(trusted_dirs)
        self.capabilities = tuple(capabilities)
        self.http = http
        self.max_result_chars = max_result_chars
        self.engine: PolicyEngine | None = None

    def engine_for(self, policies: Iterable[PolicySpec] | str) -> PolicyEngine:
        from actrio.policy._engine import PolicyEngine  # noqa: PLC0415  # import time
        from actrio.policy.paths import DEFAULT_PROTECTED  # noqa: PLC0415
        from actrio.policy.shell import DEFAULT_TRUSTED_DIRS  # noqa: PLC0415

        return PolicyEngine(
            policies,
            workspace=self.workspace,
            protected=DEFAULT_PROTECTED if self.protected is None else self.protected,
            trusted_dirs=DEFAULT_TRUSTED_DIRS if self.trusted_dirs is None else self.trusted_dirs,
            capabilities=self.capabilities,
        )

    async def start(self, runtime: Runtime) -> ToolHost:
        """Spawn the policy actor and build the host every call uses."""
        from actrio.actors._policy import PolicyActor  # noqa: PLC0415  # import time
        from actrio.actors._tool_call import ToolHost  # noqa: PLC0415
        from actrio.tools.official._human import ask_user, confirm_user  # noqa: PLC0415

        engine = self.engine if self.engine is not None else self.engine_for(())
        policies = await runtime.system.spawn(PolicyActor(engine), name="policy")
        return ToolHost(
            system=runtime.system,
            registry=runtime.tools,
            policies=policies,
            redactor=runtime.redactor,
            human=runtime.human,
            workspace=self.workspace,
            protected=tuple(engine.binder.protected),
            http=self.http,
            max_result_chars=self.max_result_chars,
            fallback={"user.confirm": confirm_user, "user.elicit": ask_user},
        )


def _uninstall_all(runtime: Runtime) -> PluginError | None:
    """Uninstall every plugin, newest first; return the first failure, if any."""
    first: PluginError | None = None
    for name in reversed(runtime.plugins.installed()):
        try:
            runtime.plugins.uninstall(name)
        except PluginError as error:
            first = first or error
    return first


def current_runtime() -> Runtime:
    """The runtime the running task is in.

    Raises:
        UsageError: Outside any runtime.
    """
    runtime = _current_runtime.get(None)
    if runtime is None:
        raise UsageError("current_runtime() called outside `async with actrio.open_runtime()`")
    return runtime
