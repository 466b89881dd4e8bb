"""Token estimates: how many input tokens a request or a list of messages will cost.

Every estimator follows :class:`TokenEstimator`: ``count(request_or_messages)``
gives a whole number of tokens. Counts are additive: a request costs the sum
of its messages, its tools and its output schema, each counted apart, so a
caller can price a piece once and subtract it.

- :class:`CharEstimator` is the fast default: characters divided by a ratio,
  plus a fixed overhead per message and per tool and a flat price per image.
  :meth:`CharEstimator.calibrate` moves the ratio towards what the provider
  reported, with an exponential moving average kept inside a sane range.
- :class:`TiktokenEstimator` uses ``tiktoken`` when it is installed (the
  ``actrio[tiktoken]`` extra); without it, building one raises
  :class:`TokenizerUnavailable`.

Errors::

    ValueError
     └── EstimatorError        bad settings, or something that is not a message
    ImportError
     └── TokenizerUnavailable  the optional tokenizer package is not installed
"""

from __future__ import annotations

import importlib
import json
import math
from collections.abc import Callable, Sequence
from typing import Any, Final, Protocol

from actrio.messages import (
    ImagePart,
    Message,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from actrio.types import ModelRequest

__all__ = (
    "CharEstimator",
    "EstimatorError",
    "TiktokenEstimator",
    "TokenEstimator",
    "TokenizerUnavailable",
)

MESSAGE_OVERHEAD: Final = 4
"""Tokens every message (and every tool) costs beyond its text: role and framing."""

IMAGE_TOKENS: Final = 1000
"""Flat price of one image: providers bill roughly this much for a mid-sized picture."""


class EstimatorError(ValueError):
    """An estimator got bad settings or a value that is not a message; the message says which."""


class TokenizerUnavailable(ImportError):
    """An optional tokenizer is not installed; the message names the extra to install."""


class TokenEstimator(Protocol):
    """Anything that counts the input tokens of a request or of messages."""

    def count(self, value: ModelRequest | Sequence[Message], /) -> int:
        """The estimated input tokens of ``value`` (a request or a sequence of messages)."""
        ...


def _part_texts(part: object) -> tuple[list[str], int]:
    """The strings a part sends and how many images it is."""
    match part:
        case TextPart(text=text):
            return [text], 0
        case ImagePart():
            return [], 1
        case ToolCallPart():
            return [part.name, part.arguments_json, part.signature or ""], 0
        case ToolResultPart():
            return [part.content, part.name or ""], 0
        case ReasoningPart():
            return [part.text, part.signature or "", part.encrypted or ""], 0
        case _:  # pragma: no cover - Message validates its parts
            raise EstimatorError(f"unknown content part {type(part).__name__}")


def _message_texts(message: Message) -> tuple[list[str], int]:
    texts = [message.name or ""]
    images = 0
    for part in message.parts:
        more, n = _part_texts(part)
        texts.extend(more)
        images += n
    return texts, images


def _request_extras(request: ModelRequest) -> list[list[str]]:
    """The text of each tool and of the output schema, one list per priced item."""
    items = [
        [tool.name, tool.description, json.dumps(tool.parameters, separators=(",", ":"))]
        for tool in request.tools
    ]
    if request.output is not None:
        items.append(
            [
                request.output.name,
                request.output.description or "",
                json.dumps(request.output.schema, separators=(",", ":")),
            ]
        )
    return items


def _messages_of(value: object) -> Sequence[Message]:
    if isinstance(value, ModelRequest):
        return value.messages
    if isinstance(value, Message) or not isinstance(value, Sequence) or isinstance(value, str):
        raise EstimatorError(
            f"count: expected a ModelRequest or a sequence of Message, got {type(value).__name__}"
        )
    for i, item in enumerate(value):
        if not isinstance(item, Message):
            raise EstimatorError(f"count: item {i} is a {type(item).__name__}, not a Message")
    return value


def _total(
    value: object, *, texts_cost: Callable[[list[str]], int], overhead: int, image_tokens: int
) -> int:
    total = 0
    for message in _messages_of(value):
        texts, images = _message_texts(message)
        total += overhead + texts_cost(texts) + images * image_tokens
    if isinstance(value, ModelRequest):
        total += sum(overhead + texts_cost(item) for item in _request_extras(value))
    return total


def _check_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise EstimatorError(f"{name}: expected an int >= 0, got {value!r}")
    return value


def _check_positive(name: str, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise EstimatorError(f"{name}: expected a finite number > 0, got {value!r}")
    return float(value)


class CharEstimator:
    """The fast default estimator: characters divided by a calibrated ratio.

    A message costs ``message_overhead`` tokens plus ``ceil(chars / ratio)``
    for its text (tool-call arguments, tool results, reasoning and the
    opaque signatures sent back included) plus ``image_tokens`` per image.
    A tool costs the overhead plus its name, description and JSON schema;
    so does the output schema. Adding text never lowers the count.

    The ratio starts at ``chars_per_token`` and follows the provider's
    reported usage through :meth:`calibrate`; it always stays within
    ``[min_ratio, max_ratio]``. The estimator is stateful (the ratio moves),
    so give each model its own.

    Args:
        chars_per_token: The starting ratio (4 suits English prose on most
            tokenizers).
        message_overhead: Tokens per message and per tool beyond the text.
        image_tokens: Tokens per image.
        smoothing: Weight of each new observation in the moving average, in ``(0, 1]``.
        min_ratio: The lowest ratio calibration may reach.
        max_ratio: The highest ratio calibration may reach.

    Raises:
        EstimatorError: On a non-positive ratio, a smoothing outside
            ``(0, 1]``, ``min_ratio > max_ratio``, or a starting ratio
            outside the bounds.
    """

    def __init__(
        self,
        *,
        chars_per_token: float = 4.0,
        message_overhead: int = MESSAGE_OVERHEAD,
        image_tokens: int = IMAGE_TOKENS,
        smoothing: float = 0.3,
        min_ratio: float = 1.0,
        max_ratio: float = 8.0,
    ) -> None:
        self._ratio = _check_positive("CharEstimator.chars_per_token", chars_per_token)
        self._overhead = _check_int("CharEstimator.message_overhead", message_overhead)
        self._image_tokens = _check_int("CharEstimator.image_tokens", image_tokens)
        self._smoothing = _check_positive("CharEstimator.smoothing", smoothing)
        if self._smoothing > 1:
            raise EstimatorError(f"CharEstimator.smoothing: expected <= 1, got {smoothing!r}")
        self._min = _check_positive("CharEstimator.min_ratio", min_ratio)
        self._max = _check_positive("CharEstimator.max_ratio", max_ratio)
        if not self._min <= self._ratio <= self._max:
            raise EstimatorError(
                f"CharEstimator.chars_per_token: {chars_per_token!r} is outside "
                f"[{min_ratio!r}, {max_ratio!r}]"
            )

    @property
    def ratio(self) -> float:
        """The current characters-per-token ratio."""
        return self._ratio

    def count(self, value: ModelRequest | Sequence[Message], /) -> int:
        """The estimated input tokens of a request or a sequence of messages.

        Raises:
            EstimatorError: If ``value`` is neither a request nor a sequence of
                messages (the message names the offending item).
        """
        ratio = self._ratio
        return _total(
            value,
            texts_cost=lambda texts: math.ceil(sum(map(len, texts)) / ratio),
            overhead=self._overhead,
            image_tokens=self._image_tokens,
        )

    def calibrate(self, estimated: int, reported_input_tokens: int) -> bool:
        """Move the ratio towards what the provider reported for one call.

        ``estimated`` is what :meth:`count` said for the request (with the
        current ratio); ``reported_input_tokens`` is the provider's
        :attr:`~actrio.types.Usage.input_tokens` for it. A report of zero, a
        non-integer, or one more than 8 times away from the estimate (a
        cached or otherwise odd count) is ignored.

        Returns:
            Whether the report was used.
        """
        for n in (estimated, reported_input_tokens):
            if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
                return False
        factor = estimated / reported_input_tokens
        if not 1 / 8 <= factor <= 8:
            return False
        target = self._ratio * factor
        moved = (1 - self._smoothing) * self._ratio + self._smoothing * target
        self._ratio = min(self._max, max(self._min, moved))
        return True

    def __repr__(self) -> str:
        return f"CharEstimator(ratio={self._ratio:.3f})"


class TiktokenEstimator:
    """Counts tokens with ``tiktoken`` (the optional ``actrio[tiktoken]`` extra).

    Texts are encoded with the given encoding (special-token text counts as
    plain text); messages and tools add ``message_overhead`` each and images
    ``image_tokens`` each, as in :class:`CharEstimator`. ``tiktoken`` is
    imported when the estimator is built, never when actrio is imported.

    Args:
        encoding: A tiktoken encoding name, used when ``model`` is not given.
        model: A model name, to let tiktoken pick the encoding.
        message_overhead: Tokens per message and per tool beyond the text.
        image_tokens: Tokens per image.

    Raises:
        TokenizerUnavailable: If ``tiktoken`` is not installed.
        EstimatorError: On a negative overhead or image price.
    """

    def __init__(
        self,
        encoding: str = "o200k_base",
        *,
        model: str | None = None,
        message_overhead: int = MESSAGE_OVERHEAD,
        image_tokens: int = IMAGE_TOKENS,
    ) -> None:
        self._overhead = _check_int("TiktokenEstimator.message_overhead", message_overhead)
        self._image_tokens = _check_int("TiktokenEstimator.image_tokens", image_tokens)
        try:
            tiktoken: Any = importlib.import_module("tiktoken")
        except ImportError as exc:
            raise TokenizerUnavailable(
                "TiktokenEstimator needs the optional 'tiktoken' package; "
                "install it with: pip install 'actrio[tiktoken]'"
            ) from exc
        if model is not None:
            self._encoding: Any = tiktoken.encoding_for_model(model)
        else:
            self._encoding = tiktoken.get_encoding(encoding)

    def _texts_cost(self, texts: list[str]) -> int:
        return sum(len(self._encoding.encode(t, disallowed_special=())) for t in texts if t)

    def count(self, value: ModelRequest | Sequence[Message], /) -> int:
        """The input tokens of a request or a sequence of messages, by tiktoken.

        Raises:
            EstimatorError: If ``value`` is neither a request nor a sequence of
                messages (the message names the offending item).
        """
        return _total(
            value,
            texts_cost=self._texts_cost,
            overhead=self._overhead,
            image_tokens=self._image_tokens,
        )
