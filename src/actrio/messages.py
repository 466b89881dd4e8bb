"""Messages: the neutral conversation vocabulary every adapter speaks.

A :class:`Message` has a role (``system``, ``user``, ``assistant`` or
``tool``) and a tuple of content parts:

========================  =========================================  ======================
part                      what it carries                            allowed in
========================  =========================================  ======================
:class:`TextPart`         text                                       system, user, assistant
:class:`ImagePart`        an image by URL or by bytes                user
:class:`ToolCallPart`     a call the model asked for                 assistant
:class:`ToolResultPart`   the answer to one tool call                tool
:class:`ReasoningPart`    the model's reasoning, with the opaque     assistant
                          signature or encrypted payload a provider
                          needs to have it sent back
========================  =========================================  ======================

Every value is a frozen attrs class, checked when it is built (a bad part
raises :class:`MessageError` naming the field), and serialised by actrio's
one cattrs converter: parts carry a ``kind`` tag, and image bytes travel as
base64. Nothing here knows about providers or actors.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any, Final, Literal

import attrs

from actrio._wire import converter, register_kind_union

__all__ = (
    "ImagePart",
    "Message",
    "MessageError",
    "Part",
    "ReasoningPart",
    "Role",
    "TextPart",
    "ToolCallPart",
    "ToolResultPart",
)

Role = Literal["system", "user", "assistant", "tool"]
"""Who a message is from."""


class MessageError(ValueError):
    """A message or content part was built from bad values; the message names the field."""


def _str(name: str) -> Any:
    def check(_: object, __: object, value: object) -> None:
        if not isinstance(value, str):
            raise MessageError(f"{name}: expected a str, got {type(value).__name__}")

    return check


def _opt_str(name: str) -> Any:
    def check(_: object, __: object, value: object) -> None:
        if value is not None and not isinstance(value, str):
            raise MessageError(f"{name}: expected a str or None, got {type(value).__name__}")

    return check


def _bool(name: str) -> Any:
    def check(_: object, __: object, value: object) -> None:
        if not isinstance(value, bool):
            raise MessageError(f"{name}: expected a bool, got {type(value).__name__}")

    return check


@attrs.frozen(kw_only=True)
class TextPart:
    """Plain text.

    Attributes:
        text: The text.
    """

    kind: Literal["text"] = "text"
    text: str = attrs.field(validator=_str("TextPart.text"))


_IMAGE_SCHEMES: Final = ("http://", "https://", "data:")


@attrs.frozen(kw_only=True)
class ImagePart:
    """An image, given either by URL or by its bytes (exactly one of them).

    Attributes:
        url: An ``http(s)://`` or ``data:`` URL.
        data: The encoded image (PNG, JPEG, ...); needs ``media_type``.
        media_type: The MIME type, such as ``"image/png"``.
    """

    kind: Literal["image"] = "image"
    url: str | None = attrs.field(default=None, validator=_opt_str("ImagePart.url"))
    data: bytes | None = attrs.field(default=None, repr=lambda d: f"<{len(d)} bytes>")
    media_type: str | None = attrs.field(default=None, validator=_opt_str("ImagePart.media_type"))

    def __attrs_post_init__(self) -> None:
        if (self.url is None) == (self.data is None):
            raise MessageError("ImagePart: give exactly one of url= or data=")
        if self.url is not None and not self.url.startswith(_IMAGE_SCHEMES):
            raise MessageError("ImagePart.url: expected an http(s):// or data: URL")
        if self.data is not None:
            if not isinstance(self.data, bytes):
                raise MessageError(
                    f"ImagePart.data: expected bytes, got {type(self.data).__name__}"
                )
            if not self.media_type:
                raise MessageError("ImagePart.media_type: required with data=")

    def as_base64(self) -> str:
        """The image bytes in base64 (for providers that take inline data).

        Raises:
            MessageError: If the image is given by URL.
        """
        if self.data is None:
            raise MessageError("ImagePart: this image is a URL, not inline bytes")
        return base64.b64encode(self.data).decode("ascii")


def _check_arguments(_: object, __: object, value: object) -> None:
    if not isinstance(value, Mapping):
        raise MessageError(
            f"ToolCallPart.arguments: expected a JSON object, got {type(value).__name__}"
        )


@attrs.frozen(kw_only=True)
class ToolCallPart:
    """A tool call the model asked for.

    A call that must not run carries ``complete=False`` (its input was cut
    short, as when a provider stops at ``max_tokens`` in the middle of the
    arguments) or a ``problem`` (its arguments are not a JSON object). Check
    :attr:`executable` before running anything.

    Attributes:
        id: The provider's call id; tool results answer it.
        name: The tool's name.
        arguments: The parsed arguments (``{}`` when there were none or they
            could not be parsed). Treat it as read-only.
        raw_arguments: The arguments exactly as the model wrote them, when
            they could not be parsed or were cut short; else ``None``.
        complete: ``False`` if the call was cut short.
        problem: Why the arguments are unusable, or ``None``.
        signature: An opaque provider token that must be sent back with the
            call (Gemini's ``thoughtSignature``).
        provider_id: A provider's own item id, distinct from ``id`` (the
            Responses API's ``fc_…`` item id).
    """

    kind: Literal["tool_call"] = "tool_call"
    id: str = attrs.field(validator=_str("ToolCallPart.id"))
    name: str = attrs.field(validator=_str("ToolCallPart.name"))
    arguments: Mapping[str, Any] = attrs.field(factory=dict, validator=_check_arguments)
    raw_arguments: str | None = attrs.field(
        default=None, validator=_opt_str("ToolCallPart.raw_arguments")
    )
    complete: bool = attrs.field(default=True, validator=_bool("ToolCallPart.complete"))
    problem: str | None = attrs.field(default=None, validator=_opt_str("ToolCallPart.problem"))
    signature: str | None = attrs.field(
        default=None, validator=_opt_str("ToolCallPart.signature"), repr=False
    )
    provider_id: str | None = attrs.field(
        default=None, validator=_opt_str("ToolCallPart.provider_id")
    )

    @property
    def executable(self) -> bool:
        """Whether the call is whole and its arguments usable."""
        return self.complete and self.problem is None

    @property
    def arguments_json(self) -> str:
        """The arguments as JSON text: what was received, or the parsed object re-encoded."""
        if self.raw_arguments is not None:
            return self.raw_arguments
        return json.dumps(self.arguments, separators=(",", ":"), ensure_ascii=False)


@attrs.frozen(kw_only=True)
class ToolResultPart:
    """The answer to one tool call.

    Attributes:
        tool_call_id: The :attr:`ToolCallPart.id` it answers.
        content: The result as text (JSON results are JSON text).
        is_error: Whether the tool failed (or was denied); the model is told.
        name: The tool's name (Gemini needs it; others ignore it).
    """

    kind: Literal["tool_result"] = "tool_result"
    tool_call_id: str = attrs.field(validator=_str("ToolResultPart.tool_call_id"))
    content: str = attrs.field(validator=_str("ToolResultPart.content"))
    is_error: bool = attrs.field(default=False, validator=_bool("ToolResultPart.is_error"))
    name: str | None = attrs.field(default=None, validator=_opt_str("ToolResultPart.name"))


@attrs.frozen(kw_only=True)
class ReasoningPart:
    """The model's reasoning, kept apart from its answer.

    Providers need some of it back on the next turn, byte for byte:
    Anthropic's thinking ``signature`` and redacted ``data``, the Responses
    API's reasoning item (``id`` and ``encrypted_content``), Gemini's
    ``thoughtSignature``. Those travel in ``signature``, ``encrypted`` and
    ``id``; ``provider`` says whose they are, and an adapter sends back only
    its own provider's reasoning.

    Attributes:
        text: The reasoning text (or summary); empty when redacted.
        summary: Whether ``text`` is a provider's summary, not the raw reasoning.
        signature: An opaque signature to send back unchanged.
        encrypted: An opaque encrypted payload (redacted thinking, encrypted
            reasoning content) to send back unchanged.
        redacted: Whether the reasoning is only available encrypted.
        id: The provider's item id, if it has one.
        provider: The adapter family that produced it (``"anthropic"``, ...).
    """

    kind: Literal["reasoning"] = "reasoning"
    text: str = attrs.field(default="", validator=_str("ReasoningPart.text"))
    summary: bool = attrs.field(default=False, validator=_bool("ReasoningPart.summary"))
    signature: str | None = attrs.field(
        default=None, validator=_opt_str("ReasoningPart.signature"), repr=False
    )
    encrypted: str | None = attrs.field(
        default=None, validator=_opt_str("ReasoningPart.encrypted"), repr=False
    )
    redacted: bool = attrs.field(default=False, validator=_bool("ReasoningPart.redacted"))
    id: str | None = attrs.field(default=None, validator=_opt_str("ReasoningPart.id"))
    provider: str | None = attrs.field(default=None, validator=_opt_str("ReasoningPart.provider"))


Part = TextPart | ImagePart | ToolCallPart | ToolResultPart | ReasoningPart
"""Any content part."""

_ALLOWED: Final[Mapping[str, tuple[type[Any], ...]]] = {
    "system": (TextPart,),
    "user": (TextPart, ImagePart),
    "assistant": (TextPart, ToolCallPart, ReasoningPart),
    "tool": (ToolResultPart,),
}


def _parts(value: object) -> tuple[Part, ...]:
    if isinstance(value, str):
        return (TextPart(text=value),)
    if isinstance(value, TextPart | ImagePart | ToolCallPart | ToolResultPart | ReasoningPart):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(TextPart(text=item) if isinstance(item, str) else item for item in value)
    raise MessageError(
        f"Message.parts: expected a str, a part or a sequence of parts, got {type(value).__name__}"
    )


@attrs.frozen(kw_only=True)
class Message:
    """One message of a conversation.

    Build messages with the role constructors, which accept a str, a part or
    a sequence of both::

        Message.system("You are terse.")
        Message.user(["What is this?", ImagePart(url="https://…/cat.png")])
        Message.tool("call_1", '{"temp": 21}')

    Attributes:
        role: ``system``, ``user``, ``assistant`` or ``tool``.
        parts: The content parts, in order; which kinds a role allows is in
            the module docstring.
        name: An optional participant name (OpenAI-style APIs only).

    Raises:
        MessageError: On an unknown role, a part the role does not allow, or
            a message without parts.
    """

    role: Role
    parts: tuple[Part, ...] = attrs.field(converter=_parts)
    name: str | None = attrs.field(default=None, validator=_opt_str("Message.name"))

    def __attrs_post_init__(self) -> None:
        allowed = _ALLOWED.get(self.role)
        if allowed is None:
            raise MessageError(
                f"Message.role: expected one of {sorted(_ALLOWED)}, got {self.role!r}"
            )
        if not self.parts and self.role != "assistant":
            raise MessageError(f"Message.parts: a {self.role} message needs at least one part")
        for i, part in enumerate(self.parts):
            if not isinstance(part, allowed):
                raise MessageError(
                    f"Message.parts[{i}]: a {self.role} message cannot hold "
                    f"{type(part).__name__} (allowed: {', '.join(a.__name__ for a in allowed)})"
                )

    # ------------------------------------------------------------ constructors

    @classmethod
    def system(cls, content: str | TextPart | list[str | TextPart]) -> Message:
        """A system (instructions) message."""
        return cls(role="system", parts=content)

    @classmethod
    def user(cls, content: str | Part | list[str | Part] | tuple[str | Part, ...]) -> Message:
        """A user message: text and images."""
        return cls(role="user", parts=content)

    @classmethod
    def assistant(
        cls, content: str | Part | list[str | Part] | tuple[str | Part, ...] = ()
    ) -> Message:
        """An assistant message: text, tool calls and reasoning."""
        return cls(role="assistant", parts=content)

    @classmethod
    def tool(
        cls, tool_call_id: str, content: str, *, is_error: bool = False, name: str | None = None
    ) -> Message:
        """A tool message answering the call ``tool_call_id``."""
        return cls(
            role="tool",
            parts=(
                ToolResultPart(
                    tool_call_id=tool_call_id, content=content, is_error=is_error, name=name
                ),
            ),
        )

    # ------------------------------------------------------------ views

    @property
    def text(self) -> str:
        """The text parts joined (reasoning and tool calls left out)."""
        return "".join(p.text for p in self.parts if isinstance(p, TextPart))

    @property
    def tool_calls(self) -> tuple[ToolCallPart, ...]:
        """The tool call parts, in order."""
        return tuple(p for p in self.parts if isinstance(p, ToolCallPart))

    @property
    def reasoning(self) -> tuple[ReasoningPart, ...]:
        """The reasoning parts, in order."""
        return tuple(p for p in self.parts if isinstance(p, ReasoningPart))


# Private constructors for the adapters' response parsers: they set the slots
# directly instead of going through the attrs ``__init__`` of a frozen class
# (a checked ``__setattr__`` per field, the validators, the ``parts``
# converter and the role check), for values whose fields the caller has
# already checked. The values are equal to the public ones; the public
# constructors are unchanged and still validate.
_new = object.__new__
_set_text_kind = TextPart.__dict__["kind"].__set__
_set_text_text = TextPart.__dict__["text"].__set__
_set_message_role = Message.__dict__["role"].__set__
_set_message_parts = Message.__dict__["parts"].__set__
_set_message_name = Message.__dict__["name"].__set__


def _text_part(text: str) -> TextPart:
    """``TextPart(text=text)`` of a ``str``, built without the attrs ``__init__``."""
    part: TextPart = _new(TextPart)
    _set_text_kind(part, "text")
    _set_text_text(part, text)
    return part


def _assistant_message(parts: tuple[Part, ...]) -> Message:
    """``Message(role="assistant", parts=parts)``, built without the attrs ``__init__``.

    ``parts`` must be a tuple of the parts an assistant message allows
    (text, tool calls, reasoning): nothing here checks it.
    """
    message: Message = _new(Message)
    _set_message_role(message, "assistant")
    _set_message_parts(message, parts)
    _set_message_name(message, None)
    return message


# ---------------------------------------------------------------- wire form

register_kind_union(Part)
converter.register_unstructure_hook(bytes, lambda b: base64.b64encode(b).decode("ascii"))


def _structure_bytes(value: Any, _: Any) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"expected base64 text, got {type(value).__name__}")
    return base64.b64decode(value, validate=True)


converter.register_structure_hook(bytes, _structure_bytes)
