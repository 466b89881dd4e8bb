"""The policy engine: deny policies, then before policies, failing closed.

:class:`PolicyEngine` compiles a policy set once (every policy's examples
are checked then, SH-12) and decides capability calls:

1. The call's arguments are bound to the values policies see (paths,
   shell commands, URLs; see :mod:`actrio.policy._catalog`). A shell
   command is parsed only when a predicate needs the parse
   (:mod:`actrio.policy._lazy`): ``eq`` does not, for one.
2. Every ``deny`` policy triggered by the capability is evaluated, in
   order; the first whose condition holds denies the call.
3. Every ``before`` policy triggered whose condition holds (or that has
   none) contributes its required calls (``user.confirm``, ``fs.read``, ...).
   They are run, in order, by the caller's *runner* (as child tool calls, in
   the runtime); a required call answering ``False`` or failing denies.
4. Otherwise the call is allowed.

Any error on the way (an argument that cannot be bound, a condition that
cannot be evaluated, a runner that raises) denies, with ``error=True`` on
the decision (SH-13). A decision is made entirely under the engine it was
asked of: a :class:`PolicyEngine` never changes; replacing a policy set
means building a new engine (a new ``version``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import attrs
import trio

from actrio.policy._catalog import CATALOG, Binder, Capability
from actrio.policy._compile import (
    CompiledPolicy,
    PolicyEvaluationError,
    Requirement,
    check_examples,
    compile_policy,
)
from actrio.policy._lazy import LazyBound, PendingCommand
from actrio.policy._shell_programs import normalise_dirs
from actrio.policy._spec import Example, PolicySpec, PolicySpecError
from actrio.policy._text import parse_policies, render_policy
from actrio.policy.paths import DEFAULT_PROTECTED, PolicyPath
from actrio.policy.shell import DEFAULT_TRUSTED_DIRS, ShellCommand
from actrio.policy.urls import PolicyURL

__all__ = ("Decision", "PolicyEngine", "RequirementRunner", "Verdict", "satisfy")

RequirementRunner = Callable[[str, Mapping[str, object]], Awaitable[object]]
"""Runs a required call: ``await run(capability, args)``; ``False`` denies."""

_EMPTY: Final[Mapping[str, Any]] = MappingProxyType({})
_MAX_ARG_REPR = 200


@attrs.frozen(kw_only=True)
class Decision:
    """What the engine decided about one capability call.

    Attributes:
        allowed: Whether the call may run.
        capability: The capability asked for.
        policy_id: The policy that denied (``None`` when allowed).
        reason: Why, for people and for the model.
        error: The call was denied because something failed (fail closed).
        version: The version of the policy set that decided.
        required: The required calls that ran, in order (before policies).
    """

    allowed: bool
    capability: str
    policy_id: str | None = None
    reason: str = ""
    error: bool = False
    version: int = 0
    required: tuple[str, ...] = ()

    @property
    def denied(self) -> bool:
        """``not allowed``."""
        return not self.allowed


@attrs.frozen(kw_only=True)
class Verdict:
    """The synchronous part of a decision (see :meth:`PolicyEngine.evaluate`).

    Attributes:
        decision: The decision, when no required call is left to run.
        pending: The required calls to run first, with the policy asking.
        capability: The capability.
        version: The version of the policy set.
    """

    decision: Decision | None
    pending: tuple[tuple[str, Requirement], ...] = ()
    capability: str = ""
    version: int = 0


def _trusted_or_none(dirs: object) -> frozenset[str] | None:
    try:
        return normalise_dirs(dirs)
    except (TypeError, ValueError):
        return None  # Binder.bind reports it for each command


def _short(value: object) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text
    return text if len(text) <= _MAX_ARG_REPR else text[:_MAX_ARG_REPR] + "…"


def _plain(value: object) -> object:
    """A bound value as the argument it was bound from (a path's text, ...)."""
    if isinstance(value, PolicyPath | PolicyURL):
        return value.raw
    if isinstance(value, ShellCommand):
        return value.text
    return value


def describe_call(capability: str, args: Mapping[str, object]) -> str:
    """``fs.write(path='a.txt', ...)`` with control characters escaped (B-09)."""
    shown = ", ".join(f"{name}={_short(value)!r}" for name, value in args.items())
    return f"{capability}({shown})"


class PolicyEngine:
    """Decides capability calls against a compiled policy set.

    Args:
        policies: Policy specs, or their text form.
        workspace: The directory relative paths are taken from.
        protected: Names protected in any root (``.git``, ``.actrio``).
        trusted_dirs: Directories whose programs keep their bare name.
        capabilities: Capabilities beside the catalog's (a user's ``db.query``).
        version: The version number decisions carry.

    Raises:
        PolicySpecError: For a policy naming an unknown capability or
            parameter, a duplicate id, or a failing example (SH-12).
        PolicySyntaxError: For text that does not parse.
    """

    def __init__(
        self,
        policies: Iterable[PolicySpec] | str = (),
        *,
        workspace: str | Path | None = None,
        protected: Iterable[str] = DEFAULT_PROTECTED,
        trusted_dirs: Iterable[str] = DEFAULT_TRUSTED_DIRS,
        capabilities: Iterable[Capability] = (),
        version: int = 0,
    ) -> None:
        specs = parse_policies(policies) if isinstance(policies, str) else tuple(policies)
        catalog = {**CATALOG, **{c.name: c for c in capabilities}}
        self.binder = Binder(
            workspace=Path(workspace).absolute() if workspace is not None else None,
            protected=tuple(protected),
            trusted_dirs=frozenset(trusted_dirs),
            catalog=catalog,
        )
        self._version = version
        # The command parameters (parsed lazily), and the trusted directories to parse
        # them with; None when those are invalid, so that each bind reports it.
        self._commands = frozenset(
            (capability.name, param.name)
            for capability in catalog.values()
            for param in capability.params
            if param.kind == "command"
        )
        self._trusted = _trusted_or_none(self.binder.trusted_dirs)
        #: Inputs every decision sees: ``workspace`` when one is given.
        self._inputs: Mapping[str, object] = (
            MappingProxyType({"workspace": str(self.binder.workspace)})
            if self.binder.workspace is not None
            else _EMPTY
        )
        self.policies: tuple[PolicySpec, ...] = specs
        self._pairs: dict[str, tuple[tuple[str, str], ...]] = {}
        compiled: list[CompiledPolicy] = []
        seen: set[str] = set()
        for k, spec in enumerate(specs):
            compiled.append(self._compile(spec, k, seen))
            seen.add(spec.id)
        # By capability, each kind in file order: a call looks at its own policies only.
        self._deny: dict[str, list[CompiledPolicy]] = {}
        self._before: dict[str, list[CompiledPolicy]] = {}
        for policy in compiled:
            by_kind = self._deny if policy.kind == "deny" else self._before
            by_kind.setdefault(policy.spec.trigger.capability, []).append(policy)
        # The policy's own line ("policy id: deny ... if ..."), for reasons.
        self._texts = {c.id: render_policy(c.spec).partition("\n")[0] for c in compiled}
        self._compiled = tuple(compiled)
        self._remake_verdicts()

    # ------------------------------------------------------------ version

    @property
    def version(self) -> int:
        """The version number decisions carry (the policy actor sets it on a replacement)."""
        return self._version

    @version.setter
    def version(self, version: int) -> None:
        self._version = version
        self._remake_verdicts()

    def _remake_verdicts(self) -> None:
        """Decisions are values: each policy's deny and each capability's allow, made once."""
        self._denials = {
            c.id: Verdict(decision=self._deny_by(c, c.spec.trigger.capability))
            for c in self._compiled
            if c.kind == "deny"
        }
        self._allowed = {name: Verdict(decision=self._allow(name)) for name in self.binder.catalog}

    # ------------------------------------------------------------ loading

    def _compile(self, spec: PolicySpec, index: int, seen: set[str]) -> CompiledPolicy:
        if not isinstance(spec, PolicySpec):
            raise TypeError(f"policies[{index}]: expected a PolicySpec, got {type(spec).__name__}")
        if spec.id in seen:
            raise PolicySpecError(f"duplicate policy id {spec.id!r}", policy_id=spec.id, path="id")
        trigger = spec.trigger
        capability = self._capability(spec, trigger.capability, "trigger.capability")
        for local, arg in trigger.bind.items():
            if capability.param(arg) is None:
                raise PolicySpecError(
                    f"{trigger.capability} has no parameter {arg!r} "
                    f"(it has {', '.join(capability.param_names)})",
                    policy_id=spec.id,
                    path=f"trigger.bind.{local}",
                )
        for k, require in enumerate(spec.requires):
            self._capability(spec, require.capability, f"requires[{k}].capability")
        self._pairs[spec.id] = tuple(trigger.bind.items())  # the mapping iterates in Python
        compiled = compile_policy(spec)
        check_examples(compiled, lambda example: self._bind_example(spec, example))
        return compiled

    def _capability(self, spec: PolicySpec, name: str, path: str) -> Capability:
        capability = self.binder.catalog.get(name)
        if capability is None:
            known = ", ".join(sorted(self.binder.catalog))
            raise PolicySpecError(
                f"unknown capability {name!r} (known: {known}; declare others with capabilities=)",
                policy_id=spec.id,
                path=path,
            )
        return capability

    def _bind_example(
        self, spec: PolicySpec, example: Example
    ) -> tuple[Mapping[str, object], Mapping[str, object]]:
        return self._bind(spec, dict(example.args)), example.inputs

    def _bind(
        self,
        spec: PolicySpec,
        args: Mapping[str, object],
        memo: dict[str, object] | None = None,
    ) -> Mapping[str, object]:
        """The values ``spec`` sees; ``memo`` keeps each argument's binding for one call.

        A shell command is bound as a :class:`PendingCommand` (parsed when a
        predicate needs it, see :mod:`actrio.policy._lazy`) in a
        :class:`LazyBound`; everything else as :meth:`Binder.bind` binds it.
        """
        capability = spec.trigger.capability
        bound: dict[str, object] = {}
        pending: dict[str, PendingCommand] | None = None
        for local, arg in self._pairs[spec.id]:
            if arg not in args:
                raise LookupError(f"the call has no argument {arg!r}")
            if memo is not None and arg in memo:
                value = memo[arg]
            else:
                value = self._bind_one(capability, arg, args[arg])
                if memo is not None:
                    memo[arg] = value
            if type(value) is PendingCommand:
                pending = pending if pending is not None else {}
                pending[local] = value
            bound[local] = value
        return bound if pending is None else LazyBound(bound, pending)

    def _bind_one(self, capability: str, arg: str, value: object) -> object:
        """:meth:`Binder.bind`, but a command (an exact ``str``) is parsed when first read."""
        trusted = self._trusted
        if trusted is not None and type(value) is str and (capability, arg) in self._commands:
            return PendingCommand(value, trusted)
        return self.binder.bind(capability, arg, value)

    # ------------------------------------------------------------ deciding

    def evaluate(
        self,
        capability: str,
        args: Mapping[str, object],
        *,
        inputs: Mapping[str, object] | None = None,
        outputs: Mapping[str, object] | None = None,
    ) -> Verdict:
        """Evaluate the deny policies and collect the before policies' requirements.

        This part never waits; :meth:`decide` adds running the requirements.
        The input ``workspace`` is the engine's workspace unless ``inputs``
        gives another.

        Raises:
            TypeError: If ``capability`` is not a string or ``args`` not a mapping.
        """
        if not isinstance(capability, str):
            raise TypeError(f"capability must be a string, got {type(capability).__name__}")
        if type(args) is not dict and not isinstance(args, Mapping):
            raise TypeError(f"args must be a mapping, got {type(args).__name__}")
        inputs = self._inputs if inputs is None else {**self._inputs, **inputs}
        outputs = outputs if outputs is not None else _EMPTY
        memo: dict[str, object] = {}  # every policy of the call sees one binding per argument
        for policy in self._deny.get(capability, ()):
            try:
                holds = policy.condition(self._bind(policy.spec, args, memo), inputs, outputs)
            except Exception as exc:  # noqa: BLE001  # fail closed: any failure denies (SH-13)
                return Verdict(decision=self._error(policy, capability, exc))
            if holds:
                return self._denials[policy.id]
        pending: list[tuple[str, Requirement]] = []
        for policy in self._before.get(capability, ()):
            try:
                bound = self._bind(policy.spec, args, memo)
                if policy.condition(bound, inputs, outputs):
                    reqs = policy.requirements(bound, inputs, outputs)
                    pending.extend((policy.id, self._complete(policy, r, args)) for r in reqs)
            except Exception as exc:  # noqa: BLE001  # fail closed: any failure denies (SH-13)
                return Verdict(decision=self._error(policy, capability, exc))
        if pending:
            return Verdict(
                decision=None, pending=tuple(pending), capability=capability, version=self.version
            )
        return self._allowed.get(capability) or Verdict(decision=self._allow(capability))

    async def decide(
        self,
        capability: str,
        args: Mapping[str, object],
        *,
        inputs: Mapping[str, object] | None = None,
        outputs: Mapping[str, object] | None = None,
        run: RequirementRunner | None = None,
    ) -> Decision:
        """Decide a call of ``capability`` with ``args``.

        Args:
            capability: The capability (``os.shell``).
            args: The call's arguments, validated.
            inputs: The run's inputs (``candidate_path``, ...).
            outputs: Prior nodes' outputs.
            run: Runs the calls before policies require; without it, a call
                that needs one is denied.
        """
        verdict = self.evaluate(capability, args, inputs=inputs, outputs=outputs)
        return await self.satisfy(verdict, run)

    async def satisfy(self, verdict: Verdict, run: RequirementRunner | None) -> Decision:
        """Finish ``verdict``: run its required calls in order; any ``False`` denies."""
        return await satisfy(verdict, run)

    # ------------------------------------------------------------ helpers

    def _complete(
        self, policy: CompiledPolicy, requirement: Requirement, args: Mapping[str, object]
    ) -> Requirement:
        """The requirement with plain argument values, by-name ones filled in."""
        if not requirement.by_name:
            plain = {name: _plain(value) for name, value in requirement.args.items()}
            return attrs.evolve(requirement, args=plain)
        target = self.binder.catalog[requirement.capability]
        trigger = policy.spec.trigger
        filled: dict[str, object] = {}
        for param in target.param_names:
            arg = trigger.bind.get(param)
            if arg is not None and arg in args:
                filled[param] = args[arg]
        if requirement.capability in ("user.confirm", "user.elicit") and not filled:
            text = f"Allow {describe_call(trigger.capability, args)}?"
            filled[target.param_names[0]] = text
        return attrs.evolve(requirement, args=filled)

    def _allow(self, capability: str) -> Decision:
        return Decision(allowed=True, capability=capability, version=self.version)

    def _deny_by(self, policy: CompiledPolicy, capability: str) -> Decision:
        spec = policy.spec
        reason = (
            f"denied by policy {spec.id}: {spec.description}"
            if spec.description
            else f"denied by {self._texts[spec.id]}"
        )
        return Decision(
            allowed=False,
            capability=capability,
            policy_id=spec.id,
            reason=reason,
            version=self.version,
        )

    def _error(self, policy: CompiledPolicy, capability: str, exc: Exception) -> Decision:
        if isinstance(exc, PolicyEvaluationError):
            detail = f"{exc.path}: {exc.message}"
        else:
            detail = f"{type(exc).__name__}: {_short(str(exc))}"
        return Decision(
            allowed=False,
            capability=capability,
            policy_id=policy.id,
            reason=f"policy {policy.id} could not be evaluated, so the call is denied ({detail})",
            error=True,
            version=self.version,
        )

    def __repr__(self) -> str:
        ids = [p.id for p in self.policies]
        return f"<PolicyEngine version={self.version} policies={ids}>"


async def satisfy(verdict: Verdict, run: RequirementRunner | None) -> Decision:
    """Finish ``verdict``: run its required calls in order; any ``False`` denies.

    The verdict carries everything needed (its version too), so a verdict
    made by one engine is finished the same way whatever engine is current.
    """
    if verdict.decision is not None:
        await trio.lowlevel.checkpoint()
        return verdict.decision
    done: list[str] = []
    for policy_id, requirement in verdict.pending:
        name = requirement.capability
        if run is None:
            reason = f"requires {name}, and nothing can run it here"
            return _denied(verdict, policy_id, reason, done)
        try:
            answer = await run(name, requirement.args)
        except Exception as exc:  # noqa: BLE001  # fail closed: any failure denies (SH-13)
            reason = f"required {name} failed: {type(exc).__name__}: {_short(str(exc))}"
            return _denied(verdict, policy_id, reason, done, error=True)
        done.append(name)
        if answer is False:
            return _denied(verdict, policy_id, f"required {name} said no", done)
    return Decision(
        allowed=True,
        capability=verdict.capability,
        version=verdict.version,
        required=tuple(done),
    )


def _denied(
    verdict: Verdict,
    policy_id: str,
    reason: str,
    done: list[str],
    *,
    error: bool = False,
) -> Decision:
    return Decision(
        allowed=False,
        capability=verdict.capability,
        policy_id=policy_id,
        reason=f"denied by policy {policy_id}: {reason}",
        error=error,
        version=verdict.version,
        required=tuple(done),
    )
