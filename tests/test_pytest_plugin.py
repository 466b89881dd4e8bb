"""actrio.testing.pytest_plugin: fixtures for users' own tests.

The fixtures are exercised the way users meet them: in small inline test
files run by ``pytester`` in-process, with the plugin enabled through
``pytest_plugins`` in their conftest. :class:`EventLog` and the factories
are also tested directly.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Literal

import attrs
import pytest
import trio
import trio.testing

import actrio
import actrio.testing
from actrio.kernel import Event
from actrio.testing import FunctionModel, ScriptError, Turn
from actrio.testing.pytest_plugin import (
    EventLog,
    FunctionModelFactory,
    ScriptedModelFactory,
    _Tap,
)
from actrio.types import ModelRequest

pytest_plugins = ("pytester",)

PLUGIN = "actrio.testing.pytest_plugin"

REQUEST = ModelRequest(messages="hello")

INI = """\
[pytest]
trio_mode = true
addopts = --strict-markers --strict-config
filterwarnings = error
xfail_strict = true
"""


@attrs.frozen(kw_only=True)
class Ping(Event):
    kind: Literal["ping"] = "ping"
    n: int = 0


@attrs.frozen(kw_only=True)
class Pong(Event):
    kind: Literal["pong"] = "pong"


@attrs.frozen(kw_only=True)
class Kindless(Event):
    pass


def run_inline(pytester: pytest.Pytester, **files: str) -> pytest.RunResult:
    """Run inline test files with the plugin enabled as users enable it.

    The files' names start with ``test_plugin_inline_``: they are imported
    in this process, beside the suite's own ``test_*`` modules. The plugin
    module is imported afresh: this module imported it already,
    and pytest warns (an error here) that it cannot rewrite a plugin module
    imported before the conftest asked for it.
    """
    with pytest.MonkeyPatch.context() as patch:
        # pytest prints whole failure messages in the summary on CI: the same
        # output everywhere, whatever the environment says.
        patch.delenv("CI", raising=False)
        patch.delenv("BUILD_NUMBER", raising=False)
        patch.delitem(sys.modules, PLUGIN)
        patch.delattr(actrio.testing, "pytest_plugin")
        return _run_inline(pytester, **files)


def _run_inline(pytester: pytest.Pytester, **files: str) -> pytest.RunResult:
    pytester.makeini(INI)
    pytester.makeconftest('pytest_plugins = ["actrio.testing.pytest_plugin"]\n')
    pytester.makepyfile(**files)
    args = ["-p", "no:randomly", "-p", "no:cacheprovider"]
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        args += ["-p", "pytest_trio.plugin"]  # otherwise its entry point loads it
    return pytester.runpytest_inprocess(*args)


# ---------------------------------------------------------------- the module


def test_importing_actrio_testing_does_not_import_pytest() -> None:
    assert "actrio.testing.pytest_plugin" in (actrio.testing.__doc__ or "")
    assert "pytest_plugin" not in actrio.testing.__all__
    code = "import sys, actrio.testing; print(sorted(m for m in sys.modules if 'pytest' in m))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"


def test_all_is_a_sorted_tuple() -> None:
    module = sys.modules[PLUGIN]
    assert module.__all__ == ("EventLog", "FunctionModelFactory", "ScriptedModelFactory")


# ---------------------------------------------------------------- EventLog, directly


def test_event_log_lookups() -> None:
    log = EventLog()
    events = [Ping(n=1, seq=1), Pong(seq=2), Kindless(seq=3), Ping(n=2, seq=4)]
    for event in events:
        log.record(event)
    assert log.events == events
    assert log.events is not log.events  # a copy: the log cannot be changed through it
    assert log.kinds() == ["ping", "pong", "Kindless", "ping"]
    assert log.of(Ping) == [events[0], events[3]]
    assert log.of(Pong, Kindless) == [events[1], events[2]]
    assert log.of(Event) == events
    assert log.where("ping") == [events[0], events[3]]
    assert log.where("Kindless") == [events[2]]
    assert log.where("nothing") == []
    assert len(log) == 4
    assert repr(log) == "<EventLog events=4 last_seq=4>"
    log.clear()
    assert log.events == []
    assert log.kinds() == []
    assert len(log) == 0
    log.record(Pong(seq=5))
    assert log.kinds() == ["pong"]


def test_event_log_rejects_bad_arguments() -> None:
    log = EventLog()
    with pytest.raises(TypeError, match="record\\(\\) takes an Event, not dict"):
        log.record({"kind": "ping"})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="at least one Event subclass"):
        log.of()
    with pytest.raises(TypeError, match="of\\(\\) argument 1: expected an Event subclass, got"):
        log.of(Ping, int)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="of\\(\\) argument 0: expected an Event subclass"):
        log.of("ping")  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="where\\(\\) takes a kind \\(str\\), not type"):
        log.where(Ping)  # type: ignore[arg-type]


async def test_wait_for_returns_the_first_recorded_match() -> None:
    log = EventLog()
    first, second = Ping(n=1, seq=1), Ping(n=2, seq=2)
    log.record(Pong(seq=0))
    log.record(first)
    log.record(second)
    assert await log.wait_for("ping") is first
    assert await log.wait_for(Ping) is first
    assert await log.wait_for(lambda e: isinstance(e, Ping) and e.n == 2) is second
    log.clear()
    with trio.move_on_after(1):
        await log.wait_for("ping", timeout=math.inf)
        pytest.fail("cleared events are not matched")


async def test_wait_for_waits_for_a_later_event(autojump_clock: trio.testing.MockClock) -> None:
    log = EventLog()
    got: list[Event] = []

    async def waiter() -> None:
        got.append(await log.wait_for("ping", timeout=10))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter)
        await trio.sleep(1)
        log.record(Pong(seq=1))  # wakes the waiter, which keeps waiting
        await trio.sleep(1)
        log.clear()  # an event cleared while waiting is not missed from then on
        log.record(Pong(seq=2))
        log.record(Ping(seq=3))
    assert got == [Ping(seq=3)]
    assert trio.current_time() == 2


async def test_wait_for_times_out_naming_what_it_waited_for(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """TRIO-5: the timeout runs in virtual time."""
    log = EventLog()
    for i in range(25):
        log.record(Pong(seq=i + 1))
    with pytest.raises(trio.TooSlowError) as caught:
        await log.wait_for("ping", timeout=3)
    assert trio.current_time() == 3
    message = str(caught.value)
    assert message.startswith("no 'ping' event within 3s; 25 event(s) recorded since the last")
    assert message.endswith("[…, " + ", ".join(["pong"] * 20) + "]")
    with pytest.raises(trio.TooSlowError, match=r"no Ping event within 0\.5s; 25 event"):
        await log.wait_for(Ping, timeout=0.5)

    def never(event: Event) -> bool:
        return False

    log.clear()
    with pytest.raises(trio.TooSlowError) as caught:
        await log.wait_for(never, timeout=0)
    message = str(caught.value)
    assert message.startswith("no event matching test_wait_for_times_out_naming_what_it_waited")
    assert message.endswith(
        ".<locals>.never within 0s; 0 event(s) recorded since the last clear(): []"
    )


async def test_wait_for_rejects_bad_arguments() -> None:
    log = EventLog()
    with pytest.raises(TypeError, match="Event subclass, not the class int"):
        await log.wait_for(int)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="or a predicate, not int"):
        await log.wait_for(3)  # type: ignore[call-overload]
    for bad in (-1, math.nan, True, "5"):
        with pytest.raises(ValueError, match="timeout must be a number of seconds >= 0"):
            await log.wait_for("ping", timeout=bad)  # type: ignore[arg-type]


async def test_s21_wait_for_is_a_checkpoint() -> None:
    """S-21: a checkpoint on the fast path too, and a precancelled call has no effect."""
    log = EventLog()
    log.record(Ping(seq=1))
    with trio.testing.assert_checkpoints():
        await log.wait_for("ping")
    with trio.CancelScope() as scope:
        scope.cancel()
        await log.wait_for("ping")
    assert scope.cancelled_caught


async def test_a_subscribed_log_records_a_runtime_in_bus_order() -> None:
    log = EventLog()
    async with actrio.open_runtime(secrets_from_env=False) as rt:
        rt.subscribe(log.record)
        for n in range(5):
            await rt.system.publish(Ping(n=n))
        assert (await log.wait_for(lambda e: isinstance(e, Ping) and e.n == 4)).n == 4
    assert [e.n for e in log.of(Ping)] == [0, 1, 2, 3, 4]
    seqs = [e.seq for e in log.events]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(seqs)


async def test_the_fixture_log_catches_up_with_the_bus_at_teardown(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """What ``actrio_events`` does after the test: wait for events still queued."""
    async with actrio.open_runtime(secrets_from_env=False) as rt:
        await rt.system.publish(Pong())  # before the log: not waited for
        tap = _Tap(rt)
        assert rt.system.bus.publish_nowait(Ping(n=1))
        assert tap.log.kinds() == []  # queued: its subscriber task has not run yet
        await tap.settle()
        assert tap.log.kinds() == ["ping"]
        assert tap.log.events[0].seq == rt.system.bus.last_seq
        before = trio.current_time()
        await tap.settle()  # caught up: returns at once, not after its 5 s bound
        assert trio.current_time() == before


# ---------------------------------------------------------------- factories, directly


async def test_scripted_model_factory_records_models_and_what_they_left() -> None:
    make = ScriptedModelFactory()
    played = make(Turn.text("hi"), "bye", model="m1", provider="p")
    left = make("a", "b", "c", model="m2")
    allowed = make("x", allow_unused=True)
    assert make.models == [played, left, allowed]
    assert (played.model, played.provider) == ("m1", "p")
    assert (await played.complete(REQUEST)).text == "hi"
    assert (await played.complete(REQUEST)).text == "bye"
    await left.complete(REQUEST)
    assert make.unplayed() == ["scripted_model #2 (model='m2') left 2 of its 3 turn(s) unplayed"]
    with pytest.raises(TypeError, match="allow_unused must be a bool, not 'yes'"):
        make("a", allow_unused="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unexpected keyword argument 'modle'"):
        make("a", modle="x")
    with pytest.raises(ScriptError, match="turns\\[0\\]"):
        make(["a", "b"])  # type: ignore[arg-type]
    assert len(make.models) == 3


async def test_function_model_factory() -> None:
    make = FunctionModelFactory()
    model = make(lambda request: f"got {request.messages[-1].text}", model="f")
    assert isinstance(model, FunctionModel)
    assert make.models == [model]
    assert model.model == "f"
    assert (await model.complete(REQUEST)).text == "got hello"
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        make(lambda request: "x", modle="f")


# ---------------------------------------------------------------- the fixtures, inline

FACTORIES = """
import pytest
from actrio.testing import FunctionModel, ScriptedModel, Turn
from actrio.types import ModelRequest

REQUEST = ModelRequest(messages="hello")


async def test_factories(scripted_model, function_model):
    model = scripted_model(Turn.text("hi"), "bye", model="m")
    assert isinstance(model, ScriptedModel) and model.model == "m"
    assert [(await model.complete(REQUEST)).text for _ in range(2)] == ["hi", "bye"]

    async def answer(request):
        return "computed"

    fn_model = function_model(answer, model="f")
    assert isinstance(fn_model, FunctionModel) and fn_model.model == "f"
    assert (await fn_model.complete(REQUEST)).text == "computed"


async def test_unused_turns(scripted_model):
    used = scripted_model("used")
    await used.complete(REQUEST)
    model = scripted_model("one", "two", "three", model="lonely")
    await model.complete(REQUEST)
    scripted_model("never", allow_unused=True)


async def test_unused_turns_when_the_test_fails(scripted_model):
    scripted_model("never")
    assert 1 == 2, "the real problem"


def test_unused_turns_when_the_test_is_skipped(scripted_model):
    scripted_model("never")
    pytest.skip("not today")


@pytest.fixture
def broken(scripted_model):
    scripted_model("never")
    raise RuntimeError("setup broke")


def test_unused_turns_when_setup_failed(broken):
    pass
"""


def test_model_factories_and_the_unused_turn_check(pytester: pytest.Pytester) -> None:
    result = run_inline(pytester, test_plugin_inline_models=FACTORIES)
    result.assert_outcomes(passed=2, failed=1, skipped=1, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_unused_turns _*",
            "the test passed, but scripted turns were never played:",
            "scripted_model #2 (model='lonely') left 2 of its 3 turn(s) unplayed",
            "(pass allow_unused=True to scripted_model(...) if that is intended)",
            "*_ ERROR at setup of test_unused_turns_when_setup_failed _*",
            "*RuntimeError: setup broke",
            "*_ test_unused_turns_when_the_test_fails _*",
            "*AssertionError: the real problem*",
        ]
    )
    out = result.stdout.str()
    assert out.count("scripted_model #") == 1  # only the passed test's leftovers are reported
    assert "ERROR at teardown of test_unused_turns_when" not in out


RUNTIME = """
import pytest
import actrio
from actrio.actors import PolicyDecision
from actrio.tools import ToolDenied


@actrio.tool(capability="os.shell")
async def shell(command: str) -> str:
    \"\"\"Pretend to run a command.\"\"\"
    return f"ran {command}"


pytestmark = pytest.mark.actrio_runtime(tools=[shell], secrets=["module-secret-1234"])


@pytest.fixture
def env_secret(monkeypatch):
    monkeypatch.setenv("ACTRIO_PLUGIN_TEST_API_KEY", "env-secret-abcdef123456")


async def test_defaults_and_the_module_marker(env_secret, actrio_runtime):
    assert isinstance(actrio_runtime, actrio.Runtime)
    assert actrio.current_runtime() is actrio_runtime
    assert actrio_runtime.human.available  # human="external"
    text = "env-secret-abcdef123456 module-secret-1234"
    assert actrio_runtime.redactor.text(text) == "env-secret-abcdef123456 [REDACTED]"
    assert (await actrio_runtime.call_tool("shell", {"command": "ls"})).value == "ran ls"


@pytest.mark.actrio_runtime(
    policies="deny os.shell(command) if true",
    human=None,
    secrets_from_env=True,
    secrets=["function-secret-5678"],
)
async def test_the_closest_marker_wins(env_secret, actrio_runtime, actrio_events):
    assert not actrio_runtime.human.available
    text = "env-secret-abcdef123456 function-secret-5678 module-secret-1234"
    assert actrio_runtime.redactor.text(text) == "[REDACTED] [REDACTED] module-secret-1234"
    assert list(actrio_runtime.tools.names()) == ["shell"]
    with pytest.raises(ToolDenied):
        await actrio_runtime.call_tool("shell", {"command": "ls"})
    decision = await actrio_events.wait_for(PolicyDecision)
    assert not decision.allowed
    assert actrio_events.where("policy_decision") == [decision]


@pytest.mark.actrio_runtime(tool=[shell])
async def test_a_misspelt_option(actrio_runtime):
    pass


@pytest.mark.actrio_runtime(zzz=1)
async def test_an_unknown_option(actrio_runtime):
    pass


@pytest.mark.actrio_runtime({"tools": []})
async def test_a_positional_argument(actrio_runtime):
    pass
"""


def test_the_runtime_fixture_and_its_marker(pytester: pytest.Pytester) -> None:
    result = run_inline(pytester, test_plugin_inline_runtime=RUNTIME)
    result.assert_outcomes(passed=2, failed=3)
    result.stdout.fnmatch_lines(
        [
            "*TypeError: @pytest.mark.actrio_runtime got an unknown option 'tool' "
            "(did you mean 'tools'?); open_runtime() takes: plugins, available_plugins, *",
        ]
    )
    result.stdout.fnmatch_lines(
        ["*TypeError: @pytest.mark.actrio_runtime got an unknown option 'zzz'; open_runtime()*"]
    )
    result.stdout.fnmatch_lines(
        [
            "*TypeError: @pytest.mark.actrio_runtime takes open_runtime() options as keywords "
            "only, got positional ({'tools': []},)"
        ]
    )


EVENTS = """
from typing import Literal

import attrs
import pytest
import trio
import actrio
import actrio.testing
from actrio.kernel import Actor, ActorStarted, Event


@attrs.frozen(kw_only=True)
class Ping(Event):
    kind: Literal["ping"] = "ping"
    n: int = 0


class Idle(Actor[object]):
    async def receive(self, message):
        pass


@pytest.fixture
def early(actrio_runtime):
    # Another fixture of the runtime's, publishing the moment it has it.
    assert actrio_runtime.system.bus.publish_nowait(Ping(n=1))


@pytest.fixture
def after():
    # A sync fixture's teardown runs once the runtime has closed.
    logs = []
    yield logs
    (log,) = logs
    kinds = log.kinds()
    assert "ping" in kinds, kinds
    seqs = [event.seq for event in log.events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs
    assert kinds.index("ping") < kinds.index("actor_exited"), kinds


async def test_early_events_are_recorded(early, actrio_events, autojump_clock):
    assert (await actrio_events.wait_for("ping", timeout=1)).n == 1


@pytest.mark.actrio_runtime(shutdown_grace=0)
async def test_the_last_event_is_recorded(after, actrio_runtime, actrio_events):
    after.append(actrio_events)
    await actrio_runtime.system.spawn(Idle(), name="idle")
    await actrio_events.wait_for(ActorStarted)
    actrio_events.clear()
    actrio_runtime.system.bus.publish_nowait(Ping())


async def test_wait_for_times_out(actrio_events, autojump_clock):
    with pytest.raises(trio.TooSlowError, match="no 'nope' event within 2s"):
        await actrio_events.wait_for("nope", timeout=2)
"""

OVERRIDE = """
import pytest
import actrio


@pytest.fixture
async def actrio_runtime():
    async with actrio.open_runtime(secrets_from_env=False) as runtime:
        yield runtime


async def test_events_of_an_overridden_runtime(actrio_runtime, actrio_events):
    await actrio.mark("mine")
    assert (await actrio_events.wait_for("mark")).name == "mine"
    assert actrio_events.kinds() == ["mark"]
"""


def test_the_event_log_fixture(pytester: pytest.Pytester) -> None:
    result = run_inline(
        pytester, test_plugin_inline_events=EVENTS, test_plugin_inline_override=OVERRIDE
    )
    result.assert_outcomes(passed=4)


GUIDE_EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "testing"


def test_the_testing_guides_agent_example_passes(pytester: pytest.Pytester) -> None:
    """docs/testing.md's "Testing agents" example, run as users run it."""
    source = (GUIDE_EXAMPLE / "test_agent_example.py").read_text()
    result = run_inline(pytester, test_plugin_inline_agents=source)
    result.assert_outcomes(passed=2)
    guide = (GUIDE_EXAMPLE.parents[1] / "testing.md").read_text()
    assert source.strip() in guide  # the page shows the file as it is
