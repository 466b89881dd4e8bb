"""Path text checks and name folding shared by the policy checks and the safe opener.

- :func:`check_path_text`: a path is text with no NUL that is not blank (B-10);
- :func:`skeleton` and :func:`protected_hit`: loose name comparison for the
  deny side (protected names, ``mentions``): NFKC, casefold, look-alike letters
  of other scripts mapped to ASCII, invisible characters dropped (PT-07, BY-8);
- :func:`has_lookalikes`: flags names that could pass for another at a glance.

The look-alike table is a small hand-picked subset of Unicode TR39
confusables (Cyrillic, Greek, Latin extensions), not the full list.
"""

from __future__ import annotations

import os
import unicodedata
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

# Look-alike letters, after NFKC and casefold, mapped to the ASCII letter they imitate
# (a small hand-picked subset of Unicode TR39 confusables: Cyrillic, Greek, Latin
# extensions), and invisible characters mapped to nothing.
_LOOKALIKES: Final = {
    "\u0430": "a", "\u0432": "b", "\u0435": "e", "\u043a": "k", "\u043c": "m", "\u043d": "h",
    "\u043e": "o", "\u0440": "p", "\u0441": "c", "\u0442": "t", "\u0443": "y", "\u0445": "x",
    "\u0455": "s", "\u0456": "i", "\u0458": "j", "\u0501": "d", "\u04bb": "h", "\u04cf": "l",
    "\u051b": "q", "\u051d": "w", "\u0475": "v", "\u03b1": "a", "\u03b2": "b", "\u03b5": "e",
    "\u03b7": "n", "\u03b9": "i", "\u03ba": "k", "\u03bd": "v", "\u03bf": "o", "\u03c1": "p",
    "\u03c4": "t", "\u03c5": "u", "\u03c7": "x", "\u03f2": "c", "\u03f3": "j", "\u0261": "g",
    "\u0251": "a", "\u0131": "i",
}  # fmt: skip
_INVISIBLE: Final = "\u00ad\u180e\u200b\u200c\u200d\u2060\ufeff"
_SKELETON: Final = str.maketrans({**_LOOKALIKES, **dict.fromkeys(_INVISIBLE)})


class InvalidPath(ValueError):
    """A path text that names nothing: empty, whitespace-only, or holding NUL (B-10)."""


def check_path_text(value: object, *, what: str = "path") -> str:
    """Return ``value`` as path text, or raise if it cannot name a file (B-10).

    Args:
        value: a ``str`` or ``os.PathLike[str]``.
        what: how to name the value in error messages.

    Returns:
        The path text, unchanged.

    Raises:
        TypeError: ``value`` is neither text nor a text path-like (bytes included).
        InvalidPath: empty, whitespace-only, or holding a NUL byte.
    """
    text = os.fspath(value) if isinstance(value, os.PathLike) else value
    if not isinstance(text, str):
        raise TypeError(f"{what} must be str or os.PathLike[str], not {type(text).__name__}")
    if "\0" in text:
        raise InvalidPath(f"{what} {text!r} holds a NUL byte at index {text.index(chr(0))}")
    if not text.strip():
        raise InvalidPath(f"{what} {text!r} is empty or whitespace-only")
    return text


def check_protected_names(names: Iterable[str]) -> tuple[str, ...]:
    """Validate a list of protected names: each one plain component, no ``/``.

    Args:
        names: the names, e.g. ``(".git", ".actrio", ".env")``.

    Returns:
        The names as a tuple.

    Raises:
        InvalidPath: a name is empty, ``.``/``..``, or holds ``/`` or NUL.
        TypeError: ``names`` is a single string or holds a non-string.
    """
    if isinstance(names, str):
        raise TypeError("protected must be a sequence of names, not one string")
    result = tuple(names)
    for name in result:
        text = check_path_text(name, what="protected name")
        if "/" in text or text in (".", ".."):
            raise InvalidPath(f"protected name {text!r} must be one path component")
    return result


def skeleton(name: str) -> str:
    """Loose form of a name: NFKC, casefolded, look-alikes mapped to ASCII, invisibles dropped.

    Used on the deny side only (protected names, ``mentions``), where matching
    too much is harmless: ``skeleton(".G\u0406T") == skeleton(".git")``.

    Args:
        name: one path component.

    Returns:
        The folded name.
    """
    return unicodedata.normalize("NFKC", name).casefold().translate(_SKELETON)


def has_lookalikes(name: str) -> bool:
    """True if ``name`` could pass for another name at a glance (PT-07, BY-8).

    That is: it holds an invisible character, a character NFKC rewrites to
    ASCII (fullwidth ``\uff47``, ``\uff0e``), or a run of letters that either
    mixes ASCII letters with look-alike letters of other scripts (``.g\u0456t``
    with a Cyrillic ``\u0456``) or is made of look-alikes only (a "whole-script
    confusable" such as Cyrillic ``\u0455\u0455\u04bb`` for ``ssh``). Words
    of another script that use letters without an ASCII twin are not flagged
    (``\u043e\u0442\u0447\u0451\u0442.txt``); short ones made only of
    twins can be.

    Args:
        name: one path component.

    Returns:
        Whether the name holds a confusable character.
    """
    if any(ch in _INVISIBLE for ch in name):
        return True
    if any(not ch.isascii() and unicodedata.normalize("NFKC", ch).isascii() for ch in name):
        return True
    run: list[str] = []
    for ch in (*name.casefold(), "/"):  # "/" never occurs in a name: it ends the last run
        if ch.isalpha():
            run.append(ch)
            continue
        lookalikes = sum(c in _LOOKALIKES for c in run)
        ascii_letters = sum(c.isascii() for c in run)
        if lookalikes and (ascii_letters or lookalikes == len(run)):
            return True
        run.clear()
    return False


def protected_hit(names: Iterable[str], protected: Sequence[str]) -> str | None:
    """Return the first of ``names`` that loosely equals a protected name, or None.

    Args:
        names: path components to check.
        protected: the protected names.

    Returns:
        The offending component as written, or ``None``.
    """
    folded = {skeleton(p) for p in protected}
    return next((name for name in names if skeleton(name) in folded), None)
