r"""The human-in-the-loop channel: ``user.confirm`` and ``user.elicit`` questions.

A tool (or a ``before`` policy's required ``user.confirm``) asks through the
runtime's :class:`HumanChannel`. The question is published as a
:class:`HumanRequested` event and the asking task waits, alone: the rest of
the tree keeps running. It is answered by whichever comes first:

- ``runtime.respond(request_id, answer)``, from any task (a UI that
  subscribes to :class:`HumanRequested` events, a test);
- the runtime's *responder*, an async function given to
  ``open_runtime(human=...)`` (:class:`ConsoleResponder` asks on a
  terminal).

Every request ends with exactly one :class:`HumanResponded` event, answered,
cancelled or timed out. What the runtime is told decides what happens when
nothing can answer::

    human=None           no one can answer: asking raises HumanUnavailable
                         at once, never hangs (the default)
    human="external"     answers come only from runtime.respond()
    human=responder      the responder is asked; runtime.respond() may
                         still answer first

Questions are shown with every control, format and other invisible
character escaped (``\r``, ``\x1b``, ``\u202e``), so what the person
approves is what will run (B-08, B-09).

Every question carries a *digest* (B-09), the sha256 of exactly what the
answer approves: for a ``before`` policy's required call, the asking tool
call's name and exact arguments (:func:`call_digest`); for any other
question, its exact text (:func:`text_digest`). A UI shows it and sends it
back with ``respond(request_id, answer, digest=...)``: an answer naming
another digest is refused (:class:`ApprovalMismatch`) and the question keeps
waiting. The tool call checks the digest again after the answers, before its
code runs, and is denied if its arguments changed meanwhile.

Errors::

    HumanError (ActrioError)
     ├── HumanUnavailable (RuntimeError)    no one can answer
     ├── HumanTimeout (TimeoutError)        no answer in time
     ├── UnknownHumanRequest (UsageError, LookupError)
     ├── InvalidAnswer (UsageError, TypeError)
     ├── ApprovalMismatch (ValueError)      the answer was for another digest
     └── DigestError (TypeError)            arguments JSON cannot encode exactly
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import attrs
import trio

from actrio._ids import ProcessIds
from actrio._json import check_json
from actrio._wire import converter, register_kind_union
from actrio.kernel import ActrioError, Event, UsageError

if TYPE_CHECKING:
    from actrio.kernel import ActorSystem

__all__ = (
    "ApprovalMismatch",
    "ConsoleResponder",
    "DigestError",
    "HumanChannel",
    "HumanError",
    "HumanEvent",
    "HumanRequest",
    "HumanRequested",
    "HumanResponded",
    "HumanTimeout",
    "HumanUnavailable",
    "InvalidAnswer",
    "Responder",
    "UnknownHumanRequest",
    "call_digest",
    "display_text",
    "text_digest",
)

HumanKind = Literal["confirm", "elicit"]
"""``confirm`` wants a yes or no (a bool); ``elicit`` wants text (a str)."""

_request_ids = ProcessIds("h")

HumanStatus = Literal["answered", "cancelled", "timed_out", "failed"]
"""How a question ended (see :class:`HumanResponded`)."""

MAX_ANSWER_CHARS = 65_536
"""The longest ``elicit`` answer taken."""


# ---------------------------------------------------------------- errors


class HumanError(ActrioError):
    """Base class of the human-in-the-loop channel's errors."""


class HumanUnavailable(HumanError, RuntimeError):
    """No one can answer: the runtime has no responder, or the console is not a terminal."""


class HumanTimeout(HumanError, TimeoutError):
    """No answer came within the channel's timeout."""


class UnknownHumanRequest(HumanError, UsageError, LookupError):
    """``respond`` named a request that is not waiting (never asked, or already over)."""


class InvalidAnswer(HumanError, UsageError, TypeError):
    """An answer of the wrong type: ``confirm`` takes a bool, ``elicit`` a str."""


class ApprovalMismatch(HumanError, ValueError):
    """``respond(..., digest=...)`` named another digest than the request's (B-09).

    Nothing was answered: the request still waits.

    Attributes:
        request_id: The request answered.
        expected: The request's digest.
        given: The digest the answer named.
    """

    def __init__(self, request_id: str, expected: str, given: object) -> None:
        shown = display_text(given[:12]) if isinstance(given, str) else type(given).__name__
        super().__init__(
            f"request {request_id!r} is about digest {expected[:12]}, but the answer names "
            f"{shown}: nothing was answered and it still waits"
        )
        self.request_id = request_id
        self.expected = expected
        self.given = given


class DigestError(HumanError, TypeError):
    """Arguments JSON cannot encode exactly, so they have no digest (B-09)."""


# ---------------------------------------------------------------- digests (B-09)

_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


def call_digest(tool: str, arguments: Mapping[str, Any]) -> str:
    """The digest of a tool call: what a person approving it approves (B-09).

    The sha256, in hex, of the canonical JSON of ``[tool, arguments]``: keys
    sorted, no whitespace, characters as they are, UTF-8. The same arguments
    in another key order give the same digest; any other change, down to one
    invisible character, gives another.

    Raises:
        DigestError: ``tool`` is not a str, or ``arguments`` hold something
            JSON cannot encode exactly (a key that is not a str, NaN, a set,
            nesting deeper than :data:`actrio._json.MAX_DEPTH` levels or a
            cycle); the error names where.
    """
    if not isinstance(tool, str):
        raise DigestError(f"the tool name must be a str, got {type(tool).__name__}")
    if not isinstance(arguments, Mapping):
        raise DigestError(f"the arguments must be a mapping, got {type(arguments).__name__}")
    args = dict(arguments)
    try:
        check_json(args, "$")  # what json.dumps would encode lossily, or not at all
    except UsageError as exc:
        raise DigestError(f"the arguments have no digest: {exc}") from None
    return _sha256(
        json.dumps([tool, args], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    )


def text_digest(text: str) -> str:
    """The digest of a question's exact text, before any escaping (B-09).

    The sha256, in hex, of the text as a JSON string: it never equals a
    :func:`call_digest`, which digests a JSON array.
    """
    return _sha256(json.dumps(text, ensure_ascii=False))


def _sha256(text: str) -> str:
    # surrogatepass: a lone surrogate (valid in JSON text) is digested, not refused
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


# ---------------------------------------------------------------- values and events


def display_text(text: str) -> str:
    r"""``text`` with every non-printable character escaped (``\r``, ``\x1b``, ``\u202e``).

    Controls, bidi overrides, zero-width characters and the Tags block are
    all non-printable to Python, so the result shows exactly what ``text``
    holds and cannot move a terminal's cursor (B-08, B-09).
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)


def _escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(ch, f"\\x{code:02x}")
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


@attrs.frozen(kw_only=True)
class HumanRequest:
    """One question to a person.

    Attributes:
        id: The id to answer it with (``runtime.respond(id, answer)``).
        kind: ``confirm`` (answer a bool) or ``elicit`` (answer a str).
        text: The question, with invisible characters escaped.
        digest: What an answer approves (B-09): the :func:`call_digest` of
            the tool call asking, or the :func:`text_digest` of the question.
        call_id: The tool call asking, when there is one.
    """

    id: str
    kind: HumanKind
    text: str
    digest: str
    call_id: str | None = None


@attrs.frozen(kw_only=True)
class HumanRequested(Event):
    """A question is waiting for an answer (see :class:`HumanRequest`).

    ``digest`` is what the answer approves; pass it back as
    ``respond(request_id, answer, digest=digest)`` (B-09).
    """

    kind: Literal["human_requested"] = "human_requested"
    request_id: str
    question: HumanKind
    text: str
    digest: str
    call_id: str | None = None


@attrs.frozen(kw_only=True)
class HumanResponded(Event):
    """A question is over; published exactly once per :class:`HumanRequested`.

    Attributes:
        status: ``answered``, ``cancelled`` (the asker was cancelled),
            ``timed_out`` or ``failed`` (the responder raised or answered
            with the wrong type).
        answer: The answer, when ``status`` is ``answered``.
        source: ``respond`` or ``responder``, when answered.
    """

    kind: Literal["human_responded"] = "human_responded"
    request_id: str
    status: HumanStatus
    answer: bool | str | None = None
    source: Literal["respond", "responder"] | None = None


HumanEvent: TypeAlias = HumanRequested | HumanResponded
"""The closed union of the channel's events."""

HUMAN_EVENT_KINDS = register_kind_union(HumanEvent)


def _structure_answer(value: object, _: object) -> bool | str | None:
    if value is None or isinstance(value, bool | str):
        return value
    raise TypeError(f"an answer is a bool, a str or null, got {type(value).__name__}")


converter.register_structure_hook(bool | str | None, _structure_answer)

Responder = Callable[[HumanRequest], Awaitable[bool | str]]
"""An async function answering a :class:`HumanRequest`."""


# ---------------------------------------------------------------- the channel


def _check_answer(kind: HumanKind, answer: object) -> bool | str:
    if kind == "confirm":
        if not isinstance(answer, bool):
            raise InvalidAnswer(f"a confirm request takes a bool, got {type(answer).__name__}")
        return answer
    if not isinstance(answer, str):
        raise InvalidAnswer(f"an elicit request takes a str, got {type(answer).__name__}")
    if len(answer) > MAX_ANSWER_CHARS:
        raise InvalidAnswer(f"the answer is {len(answer)} characters; at most {MAX_ANSWER_CHARS}")
    return answer


@attrs.define
class _Waiting:
    request: HumanRequest
    done: trio.Event = attrs.Factory(trio.Event)
    answer: bool | str | None = None
    source: Literal["respond", "responder"] | None = None
    error: BaseException | None = None


class HumanChannel:
    """Where tools ask people, and where answers come back.

    Args:
        system: The actor system whose bus carries the events.
        responder: ``None`` (no one can answer), ``"external"`` (only
            :meth:`respond` answers) or an async function.
        timeout: Seconds to wait for an answer before :class:`HumanTimeout`.
    """

    def __init__(
        self,
        system: ActorSystem,
        responder: Responder | Literal["external"] | None = None,
        *,
        timeout: float | None = None,
    ) -> None:
        if responder is not None and responder != "external" and not callable(responder):
            raise UsageError(
                f"human= takes None, 'external' or an async function, got {responder!r}"
            )
        if timeout is not None and not (isinstance(timeout, int | float) and timeout > 0):
            raise UsageError(f"human_timeout must be a positive number, got {timeout!r}")
        self._system = system
        self._responder = responder
        self._timeout = math.inf if timeout is None else float(timeout)
        self._waiting: dict[str, _Waiting] = {}

    @property
    def available(self) -> bool:
        """Whether anything can answer (a responder, or ``"external"``)."""
        return self._responder is not None

    def pending(self) -> tuple[HumanRequest, ...]:
        """The requests waiting for an answer, oldest first."""
        return tuple(w.request for w in self._waiting.values())

    async def ask(
        self,
        kind: HumanKind,
        text: str,
        *,
        call_id: str | None = None,
        digest: str | None = None,
    ) -> bool | str:
        """Ask a person; wait for the answer.

        Args:
            kind: ``confirm`` or ``elicit``.
            text: The question.
            call_id: The tool call asking, for the events.
            digest: What the answer approves: the :func:`call_digest` of the
                tool call a required ``user.confirm`` is about. Default: the
                :func:`text_digest` of ``text``.

        Returns:
            A bool for ``confirm``, a str for ``elicit``.

        Raises:
            HumanUnavailable: Nothing can answer (raised at once), or the
                responder found no one (a console that is not a terminal).
            HumanTimeout: No answer within the timeout.
            InvalidAnswer: The responder answered with the wrong type.
        """
        if kind not in ("confirm", "elicit"):
            raise UsageError(f"kind must be 'confirm' or 'elicit', got {kind!r}")
        if not isinstance(text, str):
            raise UsageError(f"the question must be a str, got {type(text).__name__}")
        if digest is not None and not (isinstance(digest, str) and _HEX_DIGEST.fullmatch(digest)):
            raise UsageError(f"digest must be 64 lowercase hex characters, got {digest!r:.80}")
        if self._responder is None:
            raise HumanUnavailable(
                f"{kind} needs a person, and this runtime has no way to ask one: pass "
                "open_runtime(human=ConsoleResponder()) for a terminal, human=<async function>, "
                "or human='external' and answer HumanRequested events with runtime.respond()"
            )
        request = HumanRequest(
            id=_request_ids.next(),
            kind=kind,
            text=display_text(text),
            digest=text_digest(text) if digest is None else digest,
            call_id=call_id,
        )
        waiting = _Waiting(request)
        self._waiting[request.id] = waiting
        status: HumanStatus = "cancelled"
        published = False
        try:
            await self._system.publish(
                HumanRequested(
                    request_id=request.id,
                    question=kind,
                    text=request.text,
                    digest=request.digest,
                    call_id=call_id,
                )
            )
            published = True
            answer = await self._wait(waiting)
            status = "answered"
            return answer
        except HumanTimeout:
            status = "timed_out"
            raise
        except (HumanUnavailable, InvalidAnswer):
            status = "failed"
            raise
        finally:
            del self._waiting[request.id]
            if published:
                await self._finish(waiting, status)

    async def _finish(self, waiting: _Waiting, status: HumanStatus) -> None:
        answered = status == "answered"
        event = HumanResponded(
            request_id=waiting.request.id,
            status=status,
            answer=waiting.answer if answered else None,
            source=waiting.source if answered else None,
        )
        await self._system.bus.publish_within(event, _END_EVENT_GRACE)

    async def _wait(self, waiting: _Waiting) -> bool | str:
        responder = self._responder
        with trio.move_on_after(self._timeout) as timer:
            if callable(responder):
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._run_responder, responder, waiting)
                    await waiting.done.wait()
                    nursery.cancel_scope.cancel()
            else:
                await waiting.done.wait()
        if timer.cancelled_caught and not waiting.done.is_set():
            raise HumanTimeout(f"no answer to {waiting.request.kind} within {self._timeout:g} s")
        if waiting.error is not None:
            raise waiting.error
        assert waiting.answer is not None
        return waiting.answer

    async def _run_responder(self, responder: Responder, waiting: _Waiting) -> None:
        try:
            answer = _check_answer(waiting.request.kind, await responder(waiting.request))
        except (HumanUnavailable, InvalidAnswer) as error:
            waiting.error = error
        except Exception as error:  # noqa: BLE001  # a responder's bug fails the question only
            waiting.error = HumanUnavailable(
                f"the responder failed with {type(error).__name__}: {error}"
            )
            waiting.error.__cause__ = error
        else:
            if waiting.done.is_set():  # respond() answered first
                return
            waiting.answer, waiting.source = answer, "responder"
        waiting.done.set()

    def respond(self, request_id: str, answer: bool | str, *, digest: str | None = None) -> None:
        """Answer the waiting request ``request_id``.

        Args:
            request_id: The request's id.
            answer: A bool for ``confirm``, a str for ``elicit``.
            digest: The digest the person was shown (B-09); when given it
                must be the request's, or nothing is answered.

        Raises:
            UnknownHumanRequest: No such request is waiting.
            ApprovalMismatch: ``digest`` is not the request's; the request still waits.
            InvalidAnswer: ``answer`` has the wrong type; the request still waits.
        """
        waiting = self._waiting.get(request_id)
        if waiting is None or waiting.done.is_set():
            waiting_ids = ", ".join(self._waiting) or "none"
            raise UnknownHumanRequest(
                f"no request {request_id!r} is waiting for an answer (waiting: {waiting_ids})"
            )
        if digest is not None and digest != waiting.request.digest:
            raise ApprovalMismatch(request_id, waiting.request.digest, digest)
        waiting.answer = _check_answer(waiting.request.kind, answer)
        waiting.source = "respond"
        waiting.done.set()

    def __repr__(self) -> str:
        mode = self._responder if self._responder in (None, "external") else "responder"
        return f"<HumanChannel {mode} waiting={len(self._waiting)}>"


# ---------------------------------------------------------------- the console


_END_EVENT_GRACE = 1.0
"""Seconds a cancelled asker may wait to publish its :class:`HumanResponded`."""

_YES = frozenset({"y", "yes"})
_NO = frozenset({"", "n", "no"})
_MAX_LINE = 65_536


class ConsoleResponder:
    """Answers questions on a terminal, one at a time, without threads.

    It reads with :class:`trio.lowlevel.FdStream` on a duplicate of the input
    descriptor (restoring blocking mode afterwards), so it never blocks the
    event loop. A confirm takes ``y``/``yes`` or ``n``/``no`` (Enter is no);
    anything else asks again, up to three times, then counts as no. Each
    question is preceded by the first 12 hex characters of its digest (B-09).

    Args:
        input_fd: The descriptor to read answers from.
        output_fd: The descriptor to show questions on.
        require_tty: Refuse (with :class:`HumanUnavailable`) when the input
            is not a terminal, so a non-interactive run fails instead of
            reading a pipe or hanging.
    """

    def __init__(self, input_fd: int = 0, output_fd: int = 2, *, require_tty: bool = True) -> None:
        self._input_fd = input_fd
        self._output_fd = output_fd
        self._require_tty = require_tty
        self._lock = trio.Lock()
        self._buffer = b""

    async def __call__(self, request: HumanRequest) -> bool | str:
        """Ask ``request`` on the console and return the answer."""
        if self._require_tty and not os.isatty(self._input_fd):
            raise HumanUnavailable(
                f"cannot ask {request.kind!r} on the console: input is not a terminal "
                "(a non-interactive run needs human='external' or another responder)"
            )
        async with self._lock:
            await self._write(f"[actrio] digest {request.digest[:12]}\n")
            if request.kind == "elicit":
                await self._write(f"[actrio] {request.text}\n> ")
                return await self._readline()
            for _ in range(3):
                await self._write(f"[actrio] {request.text} [y/N] ")
                line = (await self._readline()).strip().lower()
                if line in _YES:
                    return True
                if line in _NO:
                    return False
                await self._write("[actrio] please answer y or n\n")
            return False

    async def _write(self, text: str) -> None:
        stream = trio.lowlevel.FdStream(os.dup(self._output_fd))
        try:
            await stream.send_all(text.encode("utf-8", "replace"))
        finally:
            await _close(stream, self._output_fd)

    async def _readline(self) -> str:
        stream = trio.lowlevel.FdStream(os.dup(self._input_fd))
        try:
            while b"\n" not in self._buffer:
                if len(self._buffer) > _MAX_LINE:
                    raise HumanUnavailable(f"the answer is over {_MAX_LINE} bytes")
                data = await stream.receive_some(4096)
                if not data:
                    raise HumanUnavailable("the console's input ended before an answer")
                self._buffer += data
        finally:
            await _close(stream, self._input_fd)
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode("utf-8", "replace").rstrip("\r")


async def _close(stream: trio.lowlevel.FdStream, fd: int) -> None:
    """Close our duplicate and give the shared descriptor its blocking mode back."""
    with trio.CancelScope(shield=True):
        await stream.aclose()
    os.set_blocking(fd, True)
