"""The public surface: a sorted tuple ``__all__``, every name importable."""

from __future__ import annotations

import importlib

import pytest
import trio

import actrio

PUBLIC_MODULES = [
    "actrio",
    "actrio.kernel",
    "actrio.actors",
    "actrio.adapters",
    "actrio.codecs",
    "actrio.events",
    "actrio.guardrails",
    "actrio.intercepts",
    "actrio.llm",
    "actrio.middleware",
    "actrio.observe",
    "actrio.runtime",
    "actrio.tools",
]

# Names the issue fixes; code outside the project relies on them.
REQUIRED = {
    "Actor",
    "ActorRef",
    "open_actor_system",
    "Supervisor",
    "ChildSpec",
    "WouldBlock",
    "ActorStopped",
    "run",
    # issue 3: scopes, events, middleware, plugins
    "open_scope",
    "ScopeType",
    "ScopeAttributes",
    "mark",
    "LLMRequest",
    "ScopeStarted",
    "ScopeEnded",
    "Mark",
    "guardrails",
    "intercepts",
    "Plugin",
    "tools",
    "llm",
}

CALLABLES = ["tools.execute", "llm.execute", "llm.stream_execute"]


@pytest.mark.parametrize("dotted", CALLABLES)
def test_instrumented_calls_are_reachable_from_the_package(dotted: str) -> None:
    module, name = dotted.split(".")
    assert callable(getattr(getattr(actrio, module), name))


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_is_a_sorted_tuple_of_importable_names(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert isinstance(exported, tuple)
    assert list(exported) == sorted(exported)
    assert len(set(exported)) == len(exported)
    for attr in exported:
        assert getattr(module, attr) is not None, attr


def test_required_names_are_exported() -> None:
    assert set(actrio.__all__) >= REQUIRED


def test_would_block_is_trios() -> None:
    assert actrio.WouldBlock is trio.WouldBlock


def test_private_modules_are_not_exported() -> None:
    assert not [n for n in actrio.__all__ if n.startswith("_") and n != "__version__"]
