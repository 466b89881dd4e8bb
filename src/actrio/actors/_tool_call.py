"""One tool call, from the model's arguments to the text the model gets back.

The order is what makes a denied call unable to run::

    look the tool up                exact name (B-03)          UnknownTool
    check the arguments             bounded, strict (B-01/02)  ToolArgumentsError
    ── Tool scope (ScopeStarted; middleware: request intercepts, guardrails) ──
      innermost, after every execution intercept:
        check the arguments again   an intercept may have rewritten them
        ask the policy actor        Evaluate → Verdict under one version
        run required calls          before policies: user.confirm, ... as
                                    child tool calls of this one, shown the
                                    digest of this call (B-09)
        still what was approved?    the digest again: else denied (B-09)
        publish PolicyDecision      exactly one per call decided
        denied?                     ToolDenied; the tool's code never runs
        run the tool                with its own timeout, in its ToolContext
        render the result           capped (B-05/B-06), secrets masked (SE-05)
    ── ScopeEnded ──

The decision is taken in the innermost layer, after every intercept, so no
middleware can change the arguments between the decision and the run.

A call whose policies required calls (a person's confirmation) is bound to
the digest of its tool name and exact arguments, taken before the first
required call (:func:`actrio.human.call_digest`): it is what the person is
shown and approves. After the required calls the digest is taken again; if
it differs, the call is denied and its code never runs. If it matches, the
keyword arguments are rebuilt at once from a private copy, so what runs is
exactly what was approved, whatever holds the arguments afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

import attrs
import httpx
import trio

from actrio._ids import ProcessIds
from actrio._json import check_json
from actrio._redact import Redactor
from actrio.actors._calls import execute_tool
from actrio.actors._policy import Evaluate, PolicyMessage
from actrio.actors._policy_events import PolicyDecision, PolicyErrored
from actrio.actors._scope import END_EVENT_GRACE, current_scope
from actrio.human import DigestError, HumanChannel, call_digest
from actrio.kernel import ActorRef, ActorSystem, UsageError
from actrio.policy._engine import Decision, PolicyEngine, Verdict, satisfy
from actrio.policy._fsopen import DEFAULT_PROTECTED
from actrio.tools._context import ToolContext, tool_context
from actrio.tools._registry import ToolRegistry
from actrio.tools._results import DEFAULT_MAX_CHARS, ToolOutput, render_result
from actrio.tools._tool import Tool
from actrio.tools._validate import check_arguments
from actrio.tools.errors import ToolDenied

__all__ = ("MAX_REQUIRED_DEPTH", "ToolCallResult", "ToolHost", "call_tool")

MAX_REQUIRED_DEPTH: Final = 4
"""How deep required calls may nest (a required call's own before policies)."""

_EVENT_ARG_CHARS: Final = 1000
"""Longest argument string a :class:`PolicyDecision` event carries."""


_call_ids = ProcessIds("call")


@attrs.frozen(kw_only=True)
class ToolHost:
    """What the runtime lends every tool call: registry, policies, channels.

    Attributes:
        system: The actor system (its bus carries the events).
        registry: The tools that can be called.
        policies: The runtime's policy actor.
        redactor: Masks secrets in results and events.
        human: The human-in-the-loop channel.
        workspace: The tools' working directory (``None``: the current one).
        protected: Names no file tool writes under.
        http: The shared HTTP client, if any.
        max_result_chars: The cap on a result's text for the model.
        fallback: Tools run for a required capability no registered tool
            provides (the official ``user.confirm`` / ``user.elicit``).
        local_policies: An agent's own policies, decided after the
            runtime's: both must allow, and a denial by either stands.
    """

    system: ActorSystem
    registry: ToolRegistry
    policies: ActorRef[PolicyMessage]
    redactor: Redactor
    human: HumanChannel | None = None
    workspace: Path | None = None
    protected: tuple[str, ...] = DEFAULT_PROTECTED
    http: httpx.AsyncClient | None = None
    max_result_chars: int = DEFAULT_MAX_CHARS
    fallback: Mapping[str, Tool] = attrs.field(factory=dict)
    local_policies: PolicyEngine | None = None


@attrs.frozen(kw_only=True)
class ToolCallResult:
    """A tool call that ran.

    Attributes:
        call_id: The call's id.
        tool: The tool's name.
        value: What the tool's function returned, unchanged (secrets too).
        output: The result as the model gets it: capped, control characters
            escaped, secrets masked.
        decision: The policy decision that let it run.
    """

    call_id: str
    tool: str
    value: Any = attrs.field(eq=False, repr=False)
    output: ToolOutput
    decision: Decision


async def call_tool(
    host: ToolHost,
    name: str,
    arguments: str | bytes | Mapping[str, Any],
    *,
    call_id: str | None = None,
    inputs: Mapping[str, Any] | None = None,
    on_result: Callable[[ToolCallResult], None] | None = None,
) -> ToolCallResult:
    """Run the call of ``name`` with ``arguments``: validate, decide, run, render.

    ``on_result`` is called (synchronously) as soon as the tool has returned
    and its output is rendered, before the Tool scope ends: a caller
    cancelled in that window still knows the call completed and what it gave.

    Raises:
        UnknownTool: No tool has exactly that name.
        ToolArgumentsError: The arguments do not fit; nothing ran, nothing
            was decided.
        ToolDenied: The policies denied it; the tool's code did not run.
        ToolTimeout: The tool ran longer than its timeout.
        ToolFailed: The tool raised (the original is chained).
        GuardrailBlocked: A guardrail blocked it before the decision.
    """
    return await _call(
        host, host.registry.get(name), arguments, call_id, inputs, depth=0, on_result=on_result
    )


@attrs.define
class _Call:
    host: ToolHost
    tool: Tool
    call_id: str
    inputs: Mapping[str, Any] | None
    depth: int
    approves: str | None = None  # the digest of the call this one is a required call of
    decided: bool = False  # its PolicyDecision event is out
    approved: str | None = None  # B-09: its own digest, once a required call is asked
    bound: dict[str, Any] | None = None  # the keyword arguments checked against it

    def forget_approval(self) -> None:
        """Start a decision afresh (an intercept may run the call again)."""
        self.approved = self.bound = None


async def _call(
    host: ToolHost,
    tool: Tool,
    arguments: str | bytes | Mapping[str, Any],
    call_id: str | None,
    inputs: Mapping[str, Any] | None,
    *,
    depth: int,
    approves: str | None = None,
    on_result: Callable[[ToolCallResult], None] | None = None,
) -> ToolCallResult:
    if call_id is not None and not isinstance(call_id, str):
        raise UsageError(f"call_id must be a str, got {type(call_id).__name__}")
    if inputs is not None:
        check_json(dict(inputs), "inputs")
    checked, _ = check_arguments(tool, arguments)  # B-01: before any scope or policy
    call = _Call(host, tool, call_id or _call_ids.next(), inputs, depth, approves)
    outcome: list[tuple[Any, ToolOutput, Decision]] = []

    async def run(args: Any) -> str:
        json_args, kwargs = check_arguments(tool, args)
        decision = await _decide(call, json_args)
        if not decision.allowed:
            raise ToolDenied(
                tool.name,
                tool.capability,
                decision.policy_id,
                host.redactor.text(decision.reason),
                error=decision.error,
                version=decision.version,
            )
        if call.bound is not None:  # B-09: what the person approved, copied when checked
            kwargs = call.bound
        context = ToolContext(
            call_id=call.call_id,
            tool=tool.name,
            capability=tool.capability,
            workspace=host.workspace,
            protected=host.protected,
            http=host.http,
            human=host.human,
            approval_digest=call.approves,
        )
        with tool_context(context):
            value = await tool.invoke(kwargs)
        output = _masked(host, render_result(value, max_chars=host.max_result_chars))
        outcome.append((value, output, decision))
        if on_result is not None:
            on_result(
                ToolCallResult(
                    call_id=call.call_id,
                    tool=tool.name,
                    value=value,
                    output=output,
                    decision=decision,
                )
            )
        return output.text

    metadata = {"call_id": call.call_id, "capability": tool.capability}
    redact = host.redactor.value if host.redactor else None
    try:
        returned = await execute_tool(tool.name, checked, run, metadata=metadata, redact=redact)
    except BaseException as error:
        if not call.decided:  # cancelled, or blocked by a guardrail, before the decision
            await _publish(call, checked, None, before=error)
        raise
    value, output, decision = outcome[-1]
    if returned != output.text:  # an execution intercept changed the result
        output = _masked(host, render_result(returned, max_chars=host.max_result_chars))
    return ToolCallResult(
        call_id=call.call_id, tool=tool.name, value=value, output=output, decision=decision
    )


def _masked(host: ToolHost, output: ToolOutput) -> ToolOutput:
    if not host.redactor:
        return output
    text = host.redactor.text(output.text)
    return output if text == output.text else attrs.evolve(output, text=text)


async def _decide(call: _Call, args: Mapping[str, Any]) -> Decision:
    """Ask the policy actor, run the required calls; publish the one decision event.

    A cancellation passes through; the caller publishes it as the decision.
    """
    decision: Decision | None = None
    call.forget_approval()
    try:
        verdict = await call.host.policies.ask(
            Evaluate(call.tool.capability, dict(args), call.inputs)
        )

        async def required(capability: str, required_args: Mapping[str, object]) -> object:
            if call.approved is None:  # B-09: fixed before anyone is asked
                call.approved = call_digest(call.tool.name, args)
            return await _required(call, capability, required_args)

        decision = await satisfy(verdict, required)
        local = call.host.local_policies
        if decision.allowed and local is not None and call.tool.capability is not None:
            # Reported under the runtime's version: the agent's set never changes.
            # The required calls that ran are both sets', the runtime's first.
            local_decision = await satisfy(_evaluate_local(local, call, args), required)
            decision = attrs.evolve(
                local_decision,
                version=decision.version,
                required=(*decision.required, *local_decision.required),
            )
        # A required call cancelled with this one fails as an error; the
        # truth is that this call was cancelled.
        await trio.lowlevel.checkpoint_if_cancelled()
        if decision.allowed and call.approved is not None:
            decision = _bind(call, args, decision)
    except Exception as error:  # noqa: BLE001  # fail closed: the actor stopped, say
        decision = Decision(
            allowed=False,
            capability=call.tool.capability or "",
            reason=f"the policies could not be asked ({type(error).__name__}), so it is denied",
            error=True,
        )
    await _publish(call, args, decision)
    return decision


def _bind(call: _Call, args: Mapping[str, Any], decision: Decision) -> Decision:
    """Deny unless the arguments are still exactly the ones approved (B-09).

    On a match the keyword arguments are rebuilt now, with no wait between,
    from a private copy: nothing holding ``args`` can change what runs.
    """
    approved = call.approved
    assert approved is not None
    try:
        now: str | None = call_digest(call.tool.name, args)
    except DigestError:
        now = None
    if now == approved:
        call.bound = check_arguments(call.tool, args)[1]
        return decision
    shown = "arguments without a digest" if now is None else f"digest {now[:12]}"
    return Decision(
        allowed=False,
        capability=decision.capability,
        reason=f"its arguments changed after they were approved (approved digest "
        f"{approved[:12]}, now {shown}), so it is denied; the tool did not run",
        error=True,
        version=decision.version,
        required=decision.required,
    )


def _evaluate_local(engine: PolicyEngine, call: _Call, args: Mapping[str, Any]) -> Verdict:
    """Evaluate an agent's own policies (fail closed, as the policy actor does)."""
    assert call.tool.capability is not None
    try:
        return engine.evaluate(call.tool.capability, dict(args), inputs=call.inputs)
    except Exception as error:  # noqa: BLE001  # fail closed
        return Verdict(
            decision=Decision(
                allowed=False,
                capability=call.tool.capability,
                reason=f"the agent's policies could not evaluate it ({type(error).__name__}), "
                "so it is denied",
                error=True,
            )
        )


async def _required(call: _Call, capability: str, args: Mapping[str, object]) -> object:
    """Run a before policy's required call as a child tool call; return its value."""
    if call.depth >= MAX_REQUIRED_DEPTH:
        raise RecursionError(
            f"required calls nest deeper than {MAX_REQUIRED_DEPTH} ({capability} "
            "requires itself, or a chain of policies loops)"
        )
    host = call.host
    providers = host.registry.by_capability(capability)
    if len(providers) > 1:
        names = ", ".join(t.name for t in providers)
        raise LookupError(f"several tools provide {capability} ({names}); cannot choose")
    tool = providers[0] if providers else host.fallback.get(capability)
    if tool is None:
        raise LookupError(f"no tool provides {capability}: register one")
    child_id = f"{call.call_id}/{capability}"
    result = await _call(
        host, tool, dict(args), child_id, call.inputs, depth=call.depth + 1, approves=call.approved
    )
    return result.value


def _is_cancellation(error: BaseException | None) -> bool:
    """``Cancelled``, or a group of nothing but (a nursery on the way wraps it)."""
    if isinstance(error, BaseExceptionGroup):
        return error.split(trio.Cancelled)[1] is None
    return isinstance(error, trio.Cancelled)


def _cut(value: Any) -> Any:
    if isinstance(value, str) and len(value) > _EVENT_ARG_CHARS:
        return value[:_EVENT_ARG_CHARS] + f"… [{len(value)} characters]"
    if isinstance(value, dict):
        return {k: _cut(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cut(v) for v in value]
    return value


async def _publish(
    call: _Call,
    args: Mapping[str, Any],
    decision: Decision | None,
    *,
    before: BaseException | None = None,
) -> None:
    """Publish the call's one decision event, shielded, within a grace.

    With no decision, the call ended ``before`` it got one: cancelled, or
    stopped by middleware; the event says so, and that the tool did not run.
    """
    call.decided = True
    host, tool = call.host, call.tool
    scope = current_scope()
    event_args = _cut(host.redactor.value(dict(args)))
    cancelled = _is_cancellation(before)
    if decision is None:
        what = "cancelled" if cancelled else f"stopped by {type(before).__name__}"
        decision = Decision(
            allowed=False,
            capability=tool.capability or "",
            reason=f"{what} before a decision; the tool did not run",
        )
    reason = host.redactor.text(decision.reason)
    await host.system.bus.publish_within(
        PolicyDecision(
            call_id=call.call_id,
            tool=tool.name,
            capability=tool.capability,
            args=event_args,
            allowed=decision.allowed,
            policy_id=decision.policy_id,
            reason=reason,
            error=decision.error,
            cancelled=cancelled,
            version=decision.version,
            required=decision.required,
            path=scope.path if scope is not None else None,
            scope_uuid=scope.uuid if scope is not None else None,
        ),
        END_EVENT_GRACE,
    )
    if decision.error:
        await host.system.bus.publish_within(
            PolicyErrored(
                call_id=call.call_id,
                tool=tool.name,
                capability=tool.capability,
                policy_id=decision.policy_id,
                reason=reason,
                version=decision.version,
            ),
            END_EVENT_GRACE,
        )
