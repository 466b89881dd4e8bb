"""The public surface: a sorted tuple ``__all__``, every name importable."""

from __future__ import annotations

import importlib

import attrs
import pytest
import trio

import actrio

PUBLIC_MODULES = [
    "actrio",
    "actrio.kernel",
    "actrio.actors",
    "actrio.adapters",
    "actrio.agents",
    "actrio.codecs",
    "actrio.context",
    "actrio.events",
    "actrio.guardrails",
    "actrio.hooks",
    "actrio.human",
    "actrio.intercepts",
    "actrio.llm",
    "actrio.messages",
    "actrio.middleware",
    "actrio.observe",
    "actrio.runtime",
    "actrio.testing",
    "actrio.tools",
    "actrio.types",
    "actrio.adapters.errors",
    "actrio.adapters.retry",
    "actrio.adapters.router",
    "actrio.adapters.cost",
    "actrio.adapters.sse",
    "actrio.policy",
    "actrio.policy.paths",
    "actrio.policy.shell",
    "actrio.policy.urls",
    "actrio.testing.strategies",
    "actrio.tools.errors",
    "actrio.tools.official",
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
    # issue 4: provider adapters
    "ModelRequest",
    "ModelResponse",
    "Message",
    "ToolSpec",
    "Usage",
    # issue 5: tools and policies
    "tool",
    "Tool",
    "ToolRegistry",
    # issue 6: agents
    "Agent",
    "open_runtime",
    "run_sync",
    "RunResult",
    "RunFailed",
    "Budget",
    "BudgetExceeded",
}


def test_runtime_methods_for_agents_exist() -> None:
    """Issue 6's public names on the runtime: run, stream, cancel, respond."""
    for name in ("run", "stream", "cancel", "respond"):
        assert callable(getattr(actrio.Runtime, name))
    assert {"output", "messages", "usage", "cost_usd", "status"} <= set(
        attrs.fields_dict(actrio.RunResult)
    )


# issue 5: names in actrio.policy
POLICY_NAMES = {
    "parse_policies",
    "load_policies",
    "PolicyEngine",
    "PolicySpec",
    "ShellCommand",
    "Decision",
}


def test_policy_names_are_exported_and_loaded_lazily() -> None:
    assert set(actrio.policy.__all__) >= POLICY_NAMES  # type: ignore[attr-defined]


# issue 5: the official tools (nemoir-runtime's names, plus fetch_url)
OFFICIAL_TOOLS = {
    "read_file": "fs.read",
    "write_file": "fs.write",
    "edit_file": "fs.edit",
    "run_shell": "os.shell",
    "fetch_url": "http.fetch",
    "confirm_user": "user.confirm",
    "ask_user": "user.elicit",
}


def test_the_official_tools_cover_the_catalog() -> None:
    official = importlib.import_module("actrio.tools.official")
    catalog = importlib.import_module("actrio.policy").CATALOG
    for name, capability in OFFICIAL_TOOLS.items():
        found = getattr(official, name)
        assert isinstance(found, actrio.Tool)
        assert found.capability == capability
    assert set(OFFICIAL_TOOLS.values()) == set(catalog)


# issue 4: names in actrio.adapters
ADAPTER_NAMES = {
    "OpenAIChat",
    "OpenAIResponses",
    "AnthropicMessages",
    "Gemini",
    "from_model_string",
    "ModelRouter",
}


def test_adapters_are_exported_and_loaded_lazily() -> None:
    assert set(actrio.adapters.__all__) >= ADAPTER_NAMES  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        actrio.nope  # type: ignore[attr-defined]  # noqa: B018


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
