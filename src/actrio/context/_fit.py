"""Fitting a request to a model's context window: the first two compression stages.

:func:`fit` is called before every model call. When the estimated input is
over ``window - reserve_output`` it runs, only as far as needed:

1. :func:`truncate_tool_results`: oversized tool results keep their head
   and tail around a marker stating the original size;
2. :func:`drop_oldest_turns`: the oldest turns go, while the system
   messages, pinned messages, the last ``keep_last`` turns and every tool
   call's pairing with its result stay.

Each stage that changed something is reported as a :class:`StageReport`
with the tokens before and after. If even the minimum is over, the result
says ``fits=False`` (or ``strict=True`` raises :class:`ContextOverflow`):
a request known to be over is never handed back as fitting. Summarising the
dropped span (stage 3) needs a model call and lives in the actor layer.

A **turn** is a user message and everything after it up to the next user
message. Non-system messages before the first user message form a turn of
their own; leading system messages belong to no turn and are always kept.

Errors::

    ValueError
     ├── FitError         bad arguments (a negative size, a pinned index out of range)
     └── ContextOverflow  strict fitting failed: needed and available tokens
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Final

import attrs

from actrio.context._tokens import CharEstimator, TokenEstimator
from actrio.messages import Message, ToolResultPart
from actrio.types import ModelRequest

__all__ = (
    "ContextOverflow",
    "FitError",
    "FitResult",
    "Pinned",
    "StageReport",
    "drop_oldest_turns",
    "fit",
    "truncate_tool_results",
)

TRUNCATE_STAGE: Final = "truncate_tool_results"
DROP_STAGE: Final = "drop_oldest_turns"

Pinned = Callable[[Message], bool] | Collection[int]
"""Messages to keep whatever happens: a predicate, or a collection of message indexes."""


class FitError(ValueError):
    """A fitting function got bad arguments; the message names the argument."""


class ContextOverflow(ValueError):
    """Even the smallest allowed request is over the window.

    Attributes:
        needed: The estimated input tokens of the smallest request.
        available: The tokens the window leaves for input.
    """

    def __init__(self, needed: int, available: int) -> None:
        super().__init__(
            f"context overflow: the request needs {needed} input tokens after compression "
            f"but only {available} are available"
        )
        self.needed = needed
        self.available = available


@attrs.frozen(kw_only=True)
class StageReport:
    """What one compression stage did.

    Attributes:
        name: ``"truncate_tool_results"`` or ``"drop_oldest_turns"``.
        tokens_before: Estimated input tokens before the stage.
        tokens_after: Estimated input tokens after it.
    """

    name: str
    tokens_before: int
    tokens_after: int


@attrs.frozen(kw_only=True)
class FitResult:
    """The outcome of :func:`fit`.

    Attributes:
        request: The request to send (the input itself if nothing was needed).
        stages: The stages that changed something, in order.
        fits: Whether ``request`` is estimated to fit; ``False`` means the
            caller must fail or summarise, never send it.
        dropped: The messages stage 2 removed, in their original order.
        tokens: The estimated input tokens of ``request``.
        available: The tokens the window leaves for input.
    """

    request: ModelRequest
    stages: tuple[StageReport, ...]
    fits: bool
    dropped: tuple[Message, ...]
    tokens: int
    available: int


# ---------------------------------------------------------------- stage 1


def _marker(size: int) -> str:
    return f"\n[... tool result truncated: original was {size} chars ...]\n"


def _truncate(content: str, max_chars: int) -> str:
    """Head + marker + tail, at most ``max_chars`` long when the marker fits in it."""
    marker = _marker(len(content))
    keep = max(0, max_chars - len(marker))
    head = content[: (keep + 1) // 2]
    tail = content[len(content) - keep // 2 :] if keep >= 2 else ""
    cut = head + marker + tail
    return cut if len(cut) < len(content) else content


def truncate_tool_results(
    messages: Sequence[Message], *, max_chars: int
) -> tuple[tuple[Message, ...], bool]:
    """Shorten every tool result longer than ``max_chars`` characters.

    The result keeps its first and last characters around a marker that
    states the original size in characters; the whole new content (marker
    included) is ``max_chars`` long, or just the marker when ``max_chars``
    is smaller than the marker. A result is left alone when cutting it
    would not make it shorter.

    Args:
        messages: The conversation.
        max_chars: The longest tool result to keep whole.

    Returns:
        The messages (unchanged ones are the same objects) and whether any changed.

    Raises:
        FitError: If ``max_chars`` is not an int >= 0.
    """
    if isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < 0:
        raise FitError(f"max_chars: expected an int >= 0, got {max_chars!r}")
    out: list[Message] = []
    changed = False
    for message in messages:
        parts = tuple(
            attrs.evolve(p, content=_truncate(p.content, max_chars))
            if isinstance(p, ToolResultPart) and len(p.content) > max_chars
            else p
            for p in message.parts
        )
        if parts != message.parts:
            changed = True
            message = attrs.evolve(message, parts=parts)  # noqa: PLW2901 - replaced on purpose
        out.append(message)
    return tuple(out), changed


# ---------------------------------------------------------------- stage 2


def _turns(messages: Sequence[Message]) -> list[int]:
    """The turn number of each message; -1 for the leading system messages."""
    turn = -1
    numbers = []
    for i, message in enumerate(messages):
        if message.role == "user" or (turn == -1 and message.role != "system"):
            turn += 1
        elif message.role == "system" and turn != -1:
            raise FitError(f"messages[{i}]: system messages must come first")
        numbers.append(turn)
    return numbers


def _pair_groups(messages: Sequence[Message]) -> list[int]:
    """A group id per message: a tool-calling message and the results answering it share one."""
    parent = list(range(len(messages)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    caller: dict[str, int] = {}
    for i, message in enumerate(messages):
        for call in message.tool_calls:
            caller[call.id] = i
        for part in message.parts:
            if isinstance(part, ToolResultPart) and part.tool_call_id in caller:
                parent[root(i)] = root(caller[part.tool_call_id])
    return [root(i) for i in range(len(messages))]


def _pinned_set(messages: Sequence[Message], pinned: Pinned | None) -> set[int]:
    if pinned is None:
        return set()
    if callable(pinned):
        return {i for i, m in enumerate(messages) if pinned(m)}
    out = set()
    for index in pinned:
        if isinstance(index, bool) or not isinstance(index, int):
            raise FitError(f"pinned: expected message indexes, got {index!r}")
        if not 0 <= index < len(messages):
            raise FitError(f"pinned: index {index} is out of range for {len(messages)} messages")
        out.add(index)
    return out


def _check_keep_last(keep_last: object) -> int:
    if isinstance(keep_last, bool) or not isinstance(keep_last, int) or keep_last < 1:
        raise FitError(f"keep_last: expected an int >= 1, got {keep_last!r}")
    return keep_last


def _blocks(turns: list[int], groups: list[int]) -> dict[int, int]:
    """Map each turn to its block: a run of turns joined by a tool pair is dropped whole."""
    first_turn: dict[int, int] = {}
    block = {t: t for t in turns}
    for i, t in enumerate(turns):
        start = first_turn.setdefault(groups[i], t)
        for u in range(start + 1, t + 1):
            block[u] = block[start]
    return block


def drop_oldest_turns(
    messages: Sequence[Message],
    *,
    budget_tokens: int,
    estimator: TokenEstimator,
    keep_last: int = 2,
    pinned: Pinned | None = None,
) -> tuple[tuple[Message, ...], tuple[Message, ...]]:
    """Drop the oldest turns until the messages fit ``budget_tokens``.

    Kept whatever the budget: the leading system messages, the pinned
    messages, the last ``keep_last`` turns (see the module docstring), and
    the partners of all of those: a tool call and the results answering it
    are dropped together or kept together. Turns joined by such a pair are
    dropped as one. Dropping stops as soon as the estimate is within budget;
    if the minimum is still over, the minimum is returned (check it with the
    estimator).

    Args:
        messages: The conversation, system messages first.
        budget_tokens: The tokens the messages may take.
        estimator: Counts the tokens.
        keep_last: How many of the last turns are always kept (>= 1).
        pinned: A predicate or message indexes to keep.

    Returns:
        The kept messages and the dropped ones, both in their original order.

    Raises:
        FitError: On ``keep_last < 1``, a bad pinned index, or a system
            message after the conversation started.
    """
    keep_last = _check_keep_last(keep_last)
    turns = _turns(messages)
    groups = _pair_groups(messages)
    last_turn = turns[-1] if turns else -1
    keep = _pinned_set(messages, pinned)
    keep.update(i for i, t in enumerate(turns) if t == -1 or t > last_turn - keep_last)
    kept_groups = {groups[i] for i in keep}
    keep.update(i for i, g in enumerate(groups) if g in kept_groups)
    block_of_turn = _blocks(turns, groups)
    alive = [True] * len(messages)
    for block in sorted(set(block_of_turn.values()) - {-1}):
        if estimator.count([m for m, a in zip(messages, alive, strict=True) if a]) <= budget_tokens:
            break
        for i, t in enumerate(turns):
            if block_of_turn[t] == block and i not in keep:
                alive[i] = False
    kept = tuple(m for m, a in zip(messages, alive, strict=True) if a)
    dropped = tuple(m for m, a in zip(messages, alive, strict=True) if not a)
    return kept, dropped


# ---------------------------------------------------------------- fit


def fit(
    request: ModelRequest,
    *,
    window: int,
    reserve_output: int | None = None,
    estimator: TokenEstimator | None = None,
    keep_last: int = 2,
    max_tool_result_chars: int | None = 20_000,
    pinned: Pinned | None = None,
    strict: bool = False,
) -> FitResult:
    """Fit ``request`` to ``window - reserve_output`` input tokens.

    Runs :func:`truncate_tool_results` (unless ``max_tool_result_chars`` is
    ``None``) and then :func:`drop_oldest_turns`, each only while the
    estimate is over. The tools and output schema cost the same after any
    stage, so stage 2 gets what they leave.

    Args:
        request: The request to fit.
        window: The model's context window, in tokens.
        reserve_output: Tokens kept for the answer; ``None`` means the
            request's ``max_tokens`` (or 0 when unset).
        estimator: Counts the tokens; a fresh :class:`CharEstimator` by default.
        keep_last: How many of the last turns stage 2 always keeps (>= 1).
        max_tool_result_chars: The longest tool result stage 1 keeps whole;
            ``None`` skips stage 1.
        pinned: Messages stage 2 must keep: a predicate or indexes.
        strict: Raise :class:`ContextOverflow` instead of returning ``fits=False``.

    Returns:
        The fitted request, the stages that ran, whether it fits and what was dropped.

    Raises:
        FitError: On bad sizes or pinned indexes.
        ContextOverflow: With ``strict=True``, if even the minimum is over.
    """
    for name, value in (("window", window), ("reserve_output", reserve_output)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            raise FitError(f"{name}: expected an int >= 0, got {value!r}")
    keep_last = _check_keep_last(keep_last)
    estimator = CharEstimator() if estimator is None else estimator
    reserve = (request.max_tokens or 0) if reserve_output is None else reserve_output
    available = window - reserve
    stages: list[StageReport] = []
    dropped: tuple[Message, ...] = ()
    tokens = estimator.count(request)
    if tokens > available and max_tool_result_chars is not None:
        messages, changed = truncate_tool_results(request.messages, max_chars=max_tool_result_chars)
        if changed:
            request = attrs.evolve(request, messages=messages)
            after = estimator.count(request)
            stages.append(
                StageReport(name=TRUNCATE_STAGE, tokens_before=tokens, tokens_after=after)
            )
            tokens = after
    if tokens > available:
        fixed = tokens - estimator.count(request.messages)
        messages, dropped = drop_oldest_turns(
            request.messages,
            budget_tokens=available - fixed,
            estimator=estimator,
            keep_last=keep_last,
            pinned=pinned,
        )
        if dropped:
            request = attrs.evolve(request, messages=messages)
            after = estimator.count(request)
            stages.append(StageReport(name=DROP_STAGE, tokens_before=tokens, tokens_after=after))
            tokens = after
    fits = tokens <= available
    if strict and not fits:
        raise ContextOverflow(tokens, available)
    return FitResult(
        request=request,
        stages=tuple(stages),
        fits=fits,
        dropped=dropped,
        tokens=tokens,
        available=available,
    )
