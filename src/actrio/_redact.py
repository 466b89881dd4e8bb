"""Masking secrets in what tools return and what events carry (SE-05, SE-08).

A :class:`Redactor` knows a set of secret values: those given to
``open_runtime(secrets=...)`` and, by default, the values of environment
variables whose names look like credentials (``*_API_KEY``, ``*TOKEN*``, see
``SECRET_ENV_PATTERNS``). It replaces each one, and its base64 and
URL-encoded forms, with ``[REDACTED]``. Values shorter than
:data:`MIN_SECRET_CHARS` are ignored: masking ``"1"`` everywhere would
destroy the text and protect nothing.
"""

from __future__ import annotations

import base64
import os
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any, Final

__all__ = ("MASK", "MIN_SECRET_CHARS", "Redactor", "environment_secrets")

MASK: Final = "[REDACTED]"
MIN_SECRET_CHARS: Final = 8


def _forms(secret: str) -> set[str]:
    raw = secret.encode()
    forms = {
        secret,
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote_plus(secret),
    }
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        text = encoded.decode("ascii")
        forms.update((text, text.rstrip("=")))
    return {f for f in forms if len(f) >= MIN_SECRET_CHARS}


def environment_secrets(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The values of credential-like environment variables (by name)."""
    from actrio.tools.official._process import is_secret_env_name  # noqa: PLC0415  # cycle

    environ = os.environ if environ is None else environ
    return tuple(
        value
        for name, value in environ.items()
        if len(value) >= MIN_SECRET_CHARS and is_secret_env_name(name)
    )


class Redactor:
    """Replaces known secret values (and their encodings) with ``[REDACTED]``.

    Args:
        secrets: The values to mask; shorter ones than
            :data:`MIN_SECRET_CHARS` are ignored.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if not isinstance(secret, str):
                raise TypeError(f"secrets must be strings, got {type(secret).__name__}")
            if len(secret) >= MIN_SECRET_CHARS:
                forms |= _forms(secret)
        self._count = len(forms)
        # Longest first, so a secret's prefix never masks half of it.
        ordered = sorted(forms, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def text(self, text: str) -> str:
        """``text`` with every known secret masked."""
        if self._pattern is None:
            return text
        return self._pattern.sub(MASK, text)

    def value(self, value: Any) -> Any:
        """A JSON-like value with every string in it (keys too) masked."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.value(k): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value

    def __repr__(self) -> str:  # never the secrets themselves
        return f"<Redactor forms={self._count}>"
