"""Interrupting a run and resuming it later: :class:`RunSnapshot`.

``rt.interrupt(run_id)`` stops a run like a cancellation, but its result has
status ``interrupted`` and carries a :class:`RunSnapshot`: everything needed
to go on, as plain data (``snapshot.to_json()``, structured with cattrs).
``rt.resume(agent, snapshot)`` (in any runtime, any process) continues it:

- the transcript and the compressed working context as they were;
- the tool calls of the last answer: the finished ones keep their results,
  the unfinished ones run again (a sub-agent called as a tool starts over;
  a person asked to confirm is asked again);
- the step count, usage, cost and budget spent so far (the budget's limits
  hold across the interruption), and the structured-output retries used.

With deterministic tools and model, a resumed run ends exactly as the
uninterrupted run would have. The agent itself (its tools are code) is not
in the snapshot: resume with the same definition; its name, or the name of
an agent it hands off to, must match.
"""

from __future__ import annotations

import json
from typing import Any, Final

import attrs
import cattrs

from actrio._wire import converter
from actrio.context._budget import Budget, Spend
from actrio.kernel import UsageError
from actrio.messages import Message, ToolCallPart, ToolResultPart
from actrio.types import Usage

__all__ = ("SNAPSHOT_VERSION", "RunSnapshot", "SnapshotError")

SNAPSHOT_VERSION: Final = 1
"""The wire format's version; a snapshot of another version is refused."""


class SnapshotError(UsageError, ValueError):
    """A snapshot could not be read, or does not fit the agent it resumes."""


@attrs.frozen(kw_only=True)
class RunSnapshot:
    """An interrupted run, as data.

    Attributes:
        version: The format's version (:data:`SNAPSHOT_VERSION`).
        run_id: The run's id (a resumed run keeps it).
        agent: The agent that was running (after handoffs, the last one).
        messages: The transcript.
        working: What the model was being sent (the compressed context).
        steps: Model calls made by the run.
        agent_steps: Of those, by the running agent (its ``max_steps`` counts them).
        usage: Tokens used so far.
        cost_usd: Their cost.
        unpriced_models: Models without a price that answered.
        budget: The run's budget (its limits).
        spent: What the run had spent against it.
        pending_calls: The last answer's tool calls, if it had any unanswered.
        finished: Results of those calls that had finished.
        output_retries: Structured-output retries used.
        inputs: The run's inputs for policies.
        reason: Why it was interrupted.
    """

    version: int = SNAPSHOT_VERSION
    run_id: str
    agent: str
    messages: tuple[Message, ...]
    working: tuple[Message, ...]
    steps: int = 0
    agent_steps: int = 0
    usage: Usage = attrs.field(factory=Usage)
    cost_usd: float = 0.0
    unpriced_models: tuple[str, ...] = ()
    budget: Budget = attrs.field(factory=Budget)
    spent: Spend = attrs.field(factory=Spend)
    pending_calls: tuple[ToolCallPart, ...] = ()
    finished: tuple[ToolResultPart, ...] = ()
    output_retries: int = 0
    inputs: dict[str, Any] | None = None
    reason: str = "interrupted"

    def to_json(self) -> str:
        """The snapshot as JSON text."""
        return json.dumps(converter.unstructure(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> RunSnapshot:
        """Read a snapshot written by :meth:`to_json`.

        Raises:
            SnapshotError: Not JSON, another version, or a field that does not fit.
        """
        try:
            data = json.loads(text)
        except (ValueError, TypeError) as error:
            raise SnapshotError(f"a run snapshot must be JSON text: {error}") from error
        if not isinstance(data, dict):
            raise SnapshotError("a run snapshot must be a JSON object")
        if data.get("version") != SNAPSHOT_VERSION:
            raise SnapshotError(
                f"run snapshot version {data.get('version')!r} is not {SNAPSHOT_VERSION}"
            )
        try:
            snapshot: RunSnapshot = converter.structure(data, cls)
        except (cattrs.BaseValidationError, ValueError, TypeError) as error:
            details = (
                "; ".join(cattrs.transform_error(error))
                if isinstance(error, cattrs.BaseValidationError)
                else str(error)
            )
            raise SnapshotError(f"run snapshot does not fit: {details}") from error
        return snapshot
