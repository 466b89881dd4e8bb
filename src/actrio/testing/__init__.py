"""Testing kit: deterministic models and a conformance suite for model adapters.

:class:`ScriptedModel` plays scripted :class:`Turn` values (text, reasoning,
tool calls, chunks, errors, interruptions, delays in virtual time) and
records the requests it got; :class:`FunctionModel` computes each answer
from the request. Both keep the contract of actrio's HTTP adapters.
:mod:`actrio.testing.conformance` checks any adapter (including your own)
against that contract.

:mod:`actrio.testing.pytest_plugin` gives pytest fixtures for your own tests
(``scripted_model``, ``function_model``, ``actrio_runtime``,
``actrio_events``); enable it with ``pytest_plugins =
["actrio.testing.pytest_plugin"]`` in your top-level ``conftest.py``. It is
not imported from here, so ``import actrio.testing`` never imports pytest.
"""

from actrio.testing._scripted import FunctionModel as FunctionModel
from actrio.testing._scripted import ScriptedModel as ScriptedModel
from actrio.testing._scripted import ScriptedStream as ScriptedStream
from actrio.testing._scripted import ScriptError as ScriptError
from actrio.testing._scripted import ScriptExhausted as ScriptExhausted
from actrio.testing._scripted import ToolCall as ToolCall
from actrio.testing._scripted import Turn as Turn
from actrio.testing.conformance import ConformanceError as ConformanceError
from actrio.testing.conformance import Exchange as Exchange
from actrio.testing.conformance import assert_conforms as assert_conforms
from actrio.testing.conformance import check_adapter as check_adapter

__all__ = (
    "ConformanceError",
    "Exchange",
    "FunctionModel",
    "ScriptError",
    "ScriptExhausted",
    "ScriptedModel",
    "ScriptedStream",
    "ToolCall",
    "Turn",
    "assert_conforms",
    "check_adapter",
)
