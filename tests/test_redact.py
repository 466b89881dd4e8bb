"""The redactor: secrets and their encodings masked in results and events (SE-05, SE-08)."""

from __future__ import annotations

import base64
import urllib.parse

import pytest

from actrio._redact import MASK, MIN_SECRET_CHARS, Redactor, environment_secrets
from actrio.policy.paths import DEFAULT_PROTECTED
from actrio.tools._context import ToolContext

SECRET = "sk-ant-secret+value/0123456789"


def test_every_form_of_a_secret_is_masked() -> None:
    redactor = Redactor([SECRET])
    forms = [
        SECRET,
        urllib.parse.quote(SECRET, safe=""),
        urllib.parse.quote_plus(SECRET),
        base64.b64encode(SECRET.encode()).decode(),
        base64.urlsafe_b64encode(SECRET.encode()).decode().rstrip("="),
    ]
    for form in forms:
        assert redactor.text(f"<{form}>") == f"<{MASK}>", form
    assert redactor.text("nothing here") == "nothing here"
    assert SECRET not in repr(redactor)
    assert repr(redactor).startswith("<Redactor forms=")


def test_values_are_walked_keys_included() -> None:
    redactor = Redactor([SECRET])
    value = {SECRET: [SECRET, 1, True, None, {"k": (SECRET,)}]}
    assert redactor.value(value) == {MASK: [MASK, 1, True, None, {"k": [MASK]}]}


def test_short_values_are_not_secrets_and_an_empty_redactor_changes_nothing() -> None:
    redactor = Redactor(["x" * (MIN_SECRET_CHARS - 1)])
    assert not redactor
    value = {"a": ["xxxxxxx"]}
    assert redactor.value(value) is value
    assert redactor.text("xxxxxxx") == "xxxxxxx"


def test_the_longest_secret_wins_where_two_overlap() -> None:
    redactor = Redactor(["abcdefgh", "abcdefghijkl"])
    assert redactor.text("abcdefghijkl") == MASK


def test_secrets_must_be_strings() -> None:
    with pytest.raises(TypeError, match="secrets must be strings"):
        Redactor([b"bytes-secret-value"])  # type: ignore[list-item]


def test_environment_secrets_are_taken_by_name() -> None:
    environ = {
        "OPENAI_API_KEY": "sk-0123456789",
        "GITHUB_TOKEN": "ghp_0123456789",
        "HOME": "/home/someone/with/a/long/path",
        "SHORT_TOKEN": "abc",
    }
    assert sorted(environment_secrets(environ)) == ["ghp_0123456789", "sk-0123456789"]


def test_a_context_without_workspace_works_in_the_current_directory(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(str(tmp_path))
    assert str(ToolContext().root) == str(tmp_path)


def test_the_default_context_protects_what_the_policies_protect() -> None:
    assert ToolContext().protected == DEFAULT_PROTECTED
