"""Scopes: ``open_scope``, the ``Scope`` handle, ``mark`` and their events.

Covers identity and payload, kinds and attributes, parent resolution (nested
blocks, ``start_soon`` tasks, spawned actors, explicit ``parent=``), deadlines,
cancellation (``cancel``, ``ScopeCancel``, ``ref.stop()``, enclosing cancel
scopes), errors, bad arguments, scope-local observers, marks, timestamps, and
the RELIABILITY.md cases S-13 (end event survives cancel), S-20 (deep trees)
and S-21 (checkpoints, precancelled scopes publish nothing).
"""

from __future__ import annotations

import datetime
import math
from typing import Any

import attrs
import pytest
import trio
import trio.testing

import actrio
from actrio import ScopeAttributes, ScopeType, open_scope

# ---------------------------------------------------------------- helpers


def of_type(events: list[actrio.Event], kind: type[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def started(events: list[actrio.Event], name: str) -> actrio.ScopeStarted:
    found = [e for e in of_type(events, actrio.ScopeStarted) if e.name == name]
    assert len(found) == 1, f"expected one ScopeStarted named {name!r}, got {found}"
    return found[0]


def ended(events: list[actrio.Event], name: str) -> actrio.ScopeEnded:
    found = [e for e in of_type(events, actrio.ScopeEnded) if e.name == name]
    assert len(found) == 1, f"expected one ScopeEnded named {name!r}, got {found}"
    return found[0]


def scope_names(events: list[actrio.Event]) -> set[str]:
    return {e.name for e in events if isinstance(e, actrio.ScopeStarted | actrio.ScopeEnded)}


def only_cancelled(error: BaseException) -> bool:
    """Whether ``error`` is trio.Cancelled, bare or in (nested) groups of nothing else."""
    if isinstance(error, BaseExceptionGroup):
        return error.split(trio.Cancelled)[1] is None
    return isinstance(error, trio.Cancelled)


def task_names() -> list[str]:
    """Names of every live trio task (walked without recursion)."""
    names: list[str] = []
    stack = [trio.lowlevel.current_root_task()]
    while stack:
        task = stack.pop()
        names.append(task.name)
        for nursery in task.child_nurseries:
            stack.extend(nursery.child_tasks)
    return names


@attrs.frozen
class Nudge:
    pass


@attrs.frozen
class WhereAmI(actrio.Request[Any]):
    pass


class Sleeper(actrio.Actor[Any]):
    """Sleeps forever on any message; records that its handler was cancelled."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def receive(self, message: Any) -> None:
        try:
            await trio.sleep_forever()
        finally:
            self.log.append("actor")


class OpensScope(actrio.Actor[Any]):
    """Answers with the scope it sees and the scope it opens itself."""

    async def receive(self, message: Any) -> Any:
        here = actrio.current_scope()
        async with open_scope("from-actor") as inner:
            return here, inner, inner.parent, inner.path


class NoisyError(Exception):
    pass


# ---------------------------------------------------------------- kinds and attributes


def test_scope_type_has_every_kind_with_its_value() -> None:
    assert {member.name: member.value for member in ScopeType} == {
        "AGENT": "agent",
        "FUNCTION": "function",
        "TOOL": "tool",
        "LLM": "llm",
        "RETRIEVER": "retriever",
        "EMBEDDER": "embedder",
        "RERANKER": "reranker",
        "GUARDRAIL": "guardrail",
        "EVALUATOR": "evaluator",
        "CUSTOM": "custom",
        "UNKNOWN": "unknown",
    }
    assert ScopeType("tool") is ScopeType.TOOL


@pytest.mark.parametrize(
    "alias",
    [
        "Agent",
        "Function",
        "Tool",
        "Llm",
        "Retriever",
        "Embedder",
        "Reranker",
        "Guardrail",
        "Evaluator",
        "Custom",
        "Unknown",
    ],
)
def test_nemo_spellings_are_aliases_of_the_same_members(alias: str) -> None:
    assert getattr(ScopeType, alias) is getattr(ScopeType, alias.upper())


def test_scope_attributes_combine_and_name_themselves() -> None:
    both = ScopeAttributes.PARALLEL | ScopeAttributes.RELOCATABLE
    assert both & ScopeAttributes.PARALLEL == ScopeAttributes.PARALLEL
    assert both & ScopeAttributes.RELOCATABLE == ScopeAttributes.RELOCATABLE
    assert ScopeAttributes.PARALLEL & ScopeAttributes.RELOCATABLE == ScopeAttributes.NONE
    assert both.names() == ("parallel", "relocatable")
    assert ScopeAttributes.RELOCATABLE.names() == ("relocatable",)
    assert ScopeAttributes.PARALLEL.names() == ("parallel",)
    assert ScopeAttributes.NONE.names() == ()
    assert both.is_parallel
    assert both.is_relocatable
    assert not ScopeAttributes.RELOCATABLE.is_parallel
    assert not ScopeAttributes.NONE.is_relocatable


@pytest.mark.parametrize("kind", list(ScopeType))
async def test_every_kind_opens_a_scope_whose_events_carry_its_category(kind: ScopeType) -> None:
    async with actrio.open_actor_system() as system:
        events: list[actrio.Event] = []
        system.subscribe(events.append)
        async with open_scope("k", kind) as scope:
            assert scope.kind is kind
            assert f"/{kind.value}:k:" in scope.path
    assert started(events, "k").category == kind.value
    assert ended(events, "k").category == kind.value


# ---------------------------------------------------------------- identity and payload


async def test_handle_and_events_carry_identity_and_payload() -> None:
    profile = {"model": "m-1"}
    schema = {"type": "object"}
    async with actrio.open_actor_system() as system:
        events: list[actrio.Event] = []
        system.subscribe(events.append)
        async with open_scope(
            "planner",
            ScopeType.FUNCTION,
            attributes=ScopeAttributes.PARALLEL | ScopeAttributes.RELOCATABLE,
            data={"steps": [1, 2.5, "x", None, True]},
            metadata={"user": "u1"},
            data_schema=schema,
            category_profile=profile,
        ) as scope:
            assert actrio.current_scope() is scope
            assert scope.name == "planner"
            assert scope.kind is ScopeType.FUNCTION
            assert scope.attributes == ScopeAttributes.PARALLEL | ScopeAttributes.RELOCATABLE
            assert scope.parent is None
            assert scope.parent_uuid is None
            assert scope.data == {"steps": [1, 2.5, "x", None, True]}
            assert scope.metadata == {"user": "u1"}
            assert scope.deadline == math.inf
            assert scope.status is None
            assert scope.cancel_reason is None
            assert not scope.cancelled_caught
            ref = scope.ref
            assert isinstance(ref, actrio.ActorRef)
            assert ref.path == scope.path
            assert ref.alive
            assert system.lookup(scope.path) == ref
            uuid, path, actor_id = scope.uuid, scope.path, ref.id
        assert scope.status == "ok"
        assert not ref.alive
        assert actrio.current_scope() is None
    first, last = started(events, "planner"), ended(events, "planner")
    for event in (first, last):
        assert event.uuid == uuid
        assert event.parent_uuid is None
        assert event.path == path
        assert event.actor_id == actor_id
        assert event.category == "function"
        assert event.attributes == ("parallel", "relocatable")
        assert event.metadata == {"user": "u1"}
        assert event.data_schema == schema
        assert event.category_profile == profile
        assert event.atof_version == "0.1"
    assert first.data == {"steps": [1, 2.5, "x", None, True]}
    assert last.status == "ok"
    assert last.error is None
    assert last.cancel_reason is None
    assert last.seq > first.seq


@pytest.mark.parametrize(
    "attribute",
    [
        "uuid",
        "name",
        "kind",
        "attributes",
        "parent",
        "parent_uuid",
        "data",
        "metadata",
        "deadline",
        "ref",
        "path",
        "status",
        "cancel_reason",
        "cancelled_caught",
        "middleware",
    ],
)
async def test_identity_fields_are_read_only(attribute: str) -> None:
    async with actrio.open_actor_system(), open_scope("ro") as scope:
        before = getattr(scope, attribute)
        with pytest.raises(AttributeError):
            setattr(scope, attribute, "changed")
        assert getattr(scope, attribute) == before


async def test_uuids_are_unique_and_current_scope_restored_after_exit() -> None:
    async with actrio.open_actor_system():
        assert actrio.current_scope() is None
        seen = set()
        async with open_scope("outer") as outer:
            for _ in range(5):
                async with open_scope("same-name") as inner:
                    assert actrio.current_scope() is inner
                    seen.add(inner.uuid)
                assert actrio.current_scope() is outer
            seen.add(outer.uuid)
        assert len(seen) == 6
        assert actrio.current_scope() is None


# ---------------------------------------------------------------- parent resolution


async def test_nested_scopes_link_to_their_parents() -> None:
    async with actrio.open_actor_system() as system:
        events: list[actrio.Event] = []
        system.subscribe(events.append)
        async with (
            open_scope("a") as a,
            open_scope("b", ScopeType.TOOL) as b,
            open_scope("c") as c,
        ):
            assert c.parent is b
            assert b.parent is a
            assert c.parent_uuid == b.uuid
            assert c.path.startswith(b.path + "/")
            assert b.path.startswith(a.path + "/")
    assert started(events, "a").parent_uuid is None
    assert started(events, "b").parent_uuid == started(events, "a").uuid
    assert started(events, "c").parent_uuid == started(events, "b").uuid
    assert ended(events, "c").parent_uuid == started(events, "b").uuid


async def test_start_soon_tasks_run_in_the_scope_and_their_scopes_are_its_children() -> None:
    seen: dict[str, Any] = {}

    async def task(tag: str) -> None:
        seen[f"{tag}-current"] = actrio.current_scope()
        await trio.sleep(0)
        async with open_scope(f"in-{tag}") as inner:
            seen[f"{tag}-inner"] = inner
            await trio.sleep(0)

    async with actrio.open_actor_system() as system:
        events: list[actrio.Event] = []
        system.subscribe(events.append)
        async with open_scope("root") as root:
            root.start_soon(task, "t1")
            root.start_soon(task, "t2", name="second")
            async with trio.open_nursery() as nursery:  # a plain nursery inherits too
                nursery.start_soon(task, "t3")
    for tag in ("t1", "t2", "t3"):
        assert seen[f"{tag}-current"] is root
        assert seen[f"{tag}-inner"].parent is root
        assert started(events, f"in-{tag}").parent_uuid == root.uuid
        assert ended(events, f"in-{tag}").seq < ended(events, "root").seq


async def test_spawned_actors_see_the_scope_and_their_scopes_are_its_children() -> None:
    async with actrio.open_actor_system() as system:
        events: list[actrio.Event] = []
        system.subscribe(events.append)
        async with open_scope("host") as host:
            ref = await host.spawn(OpensScope(), name="worker")
            assert ref.path == host.path + "/worker"
            here, inner, parent, path = await ref.ask(WhereAmI())
            assert here is host
            assert parent is host
            assert inner.parent_uuid == host.uuid
            assert path.startswith(ref.path + "/")
        assert not ref.alive  # stopped when the scope ended
    assert started(events, "from-actor").parent_uuid == host.uuid
    exits = [e for e in of_type(events, actrio.ActorExited) if e.path == ref.path]
    assert len(exits) == 1
    assert exits[0].seq < ended(events, "host").seq


async def test_explicit_parent_may_be_the_current_scope() -> None:
    async with actrio.open_actor_system() as system:
        events: list[actrio.Event] = []
        system.subscribe(events.append)
        async with open_scope("a"), open_scope("b") as b, open_scope("to-b", parent=b) as to_b:
            assert to_b.parent is b
            assert to_b.parent_uuid == b.uuid
            assert to_b.path.rsplit("/", 1)[0] == b.path
    assert started(events, "to-b").parent_uuid == b.uuid


async def test_explicit_ancestor_parent_is_a_usage_error() -> None:
    """An ancestor as parent would split the parent link from the nursery link.

    The scope would run in the current scope's actor and task (its cancel
    scope, deadline and cancel reason) while naming the ancestor as parent,
    so parent_uuid, deadline and cancel_reason would all disagree with where
    it really runs; so only the current scope may be named.
    """
    async with actrio.open_actor_system() as system:
        events: list[actrio.Event] = []
        system.subscribe(events.append)
        async with open_scope("a") as a, open_scope("b"):
            before = system.statistics().last_seq
            with pytest.raises(actrio.UsageError, match=r"parent='a'.*inside scope 'b'"):
                async with open_scope("to-a", parent=a):
                    pytest.fail("must not run")
            assert system.statistics().last_seq == before
        # A task outside every scope cannot open a scope under a running one either.
        handed: list[actrio.Scope] = []
        refused: list[BaseException] = []
        ready = trio.Event()

        async def outsider() -> None:
            await ready.wait()
            try:
                async with open_scope("x", parent=handed[0]):
                    pytest.fail("must not run")
            except actrio.UsageError as error:
                refused.append(error)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(outsider)  # started outside any scope
            async with open_scope("a2") as a2:
                handed.append(a2)
                ready.set()
                await trio.sleep(0.01)
        assert len(refused) == 1
        assert "outside any scope" in str(refused[0])
    assert not {"to-a", "x"} & scope_names(events)


async def test_explicit_parent_not_an_ancestor_is_a_usage_error() -> None:
    ready = trio.Event()
    release = trio.Event()
    holder: dict[str, actrio.Scope] = {}

    async def sibling() -> None:
        async with open_scope("sibling") as scope:
            holder["sibling"] = scope
            ready.set()
            await release.wait()

    async with actrio.open_actor_system() as system:
        events: list[actrio.Event] = []
        system.subscribe(events.append)
        async with open_scope("root") as root:
            root.start_soon(sibling)
            await ready.wait()
            async with open_scope("mine"):
                with pytest.raises(actrio.UsageError, match="parent"):
                    async with open_scope("bad", parent=holder["sibling"]):
                        pytest.fail("must not run")
            with pytest.raises(actrio.UsageError, match="parent"):
                async with open_scope("bad", parent="root"):  # type: ignore[arg-type]
                    pytest.fail("must not run")
            release.set()
    assert "bad" not in scope_names(events)


async def test_ended_parent_is_a_usage_error() -> None:
    async with actrio.open_actor_system() as system:
        events: list[actrio.Event] = []
        system.subscribe(events.append)
        async with open_scope("root"):
            async with open_scope("gone") as gone:
                pass
            with pytest.raises(actrio.UsageError, match="ended"):
                async with open_scope("orphan", parent=gone):
                    pytest.fail("must not run")
    assert "orphan" not in scope_names(events)


# ---------------------------------------------------------------- deadlines


async def test_deadlines_compose_as_the_minimum_of_own_and_parent(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with actrio.open_actor_system():
        async with open_scope("free") as free:
            assert free.deadline == math.inf
        t0 = trio.current_time()
        async with open_scope("parent", timeout=10) as parent:
            assert parent.deadline == t0 + 10
            async with open_scope("tighter", timeout=5) as tighter:
                assert tighter.deadline == t0 + 5
                async with open_scope("grandchild") as grandchild:
                    assert grandchild.deadline == t0 + 5
            async with open_scope("looser", timeout=20) as looser:
                assert looser.deadline == parent.deadline
            async with open_scope("both", deadline=t0 + 3, timeout=7) as both:
                assert both.deadline == t0 + 3
            async with open_scope("absolute", deadline=t0 + 50) as absolute:
                assert absolute.deadline == t0 + 10


async def test_own_timeout_raises_scope_timeout(autojump_clock: trio.testing.MockClock) -> None:
    reached = []
    async with actrio.open_actor_system() as system:
        events: list[actrio.Event] = []
        system.subscribe(events.append)
        t0 = trio.current_time()
        holder: dict[str, actrio.Scope] = {}

        async def body() -> None:
            async with open_scope("slow", timeout=2) as scope:
                holder["scope"] = scope
                await trio.sleep(10)
                reached.append("after sleep")

        with pytest.raises(actrio.ScopeTimeout) as excinfo:
            await body()
        scope = holder["scope"]
        assert trio.current_time() == t0 + 2
        assert isinstance(excinfo.value, trio.TooSlowError)
        assert isinstance(excinfo.value, actrio.ActrioError)
        assert excinfo.value.scope == "slow"
        assert excinfo.value.deadline == t0 + 2
        assert scope.status == "cancelled"
        assert scope.cancelled_caught
    assert reached == []
    end = ended(events, "slow")
    assert end.status == "cancelled"
    assert end.cancel_reason == "deadline exceeded"
    assert end.duration == pytest.approx(2.0)


async def test_absolute_deadline_raises_scope_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with actrio.open_actor_system():
        t0 = trio.current_time()
        with pytest.raises(actrio.ScopeTimeout):
            async with open_scope("abs", deadline=t0 + 1.5):
                await trio.sleep_forever()
        assert trio.current_time() == t0 + 1.5


async def test_parent_deadline_ends_the_child_cancelled_not_timed_out(
    autojump_clock: trio.testing.MockClock,
) -> None:
    out_of_child: list[BaseException] = []
    async with actrio.open_actor_system() as system:
        events: list[actrio.Event] = []
        system.subscribe(events.append)
        holder: dict[str, actrio.Scope] = {}

        async def body() -> None:
            async with open_scope("parent", timeout=2) as parent:
                try:
                    async with open_scope("child", timeout=5) as child:
                        holder["child"] = child
                        assert child.deadline == parent.deadline
                        await trio.sleep(10)
                except BaseException as error:
                    out_of_child.append(error)
                    raise

        with pytest.raises(actrio.ScopeTimeout) as excinfo:
            await body()
        child = holder["child"]
        assert excinfo.value.scope == "parent"
        assert child.status == "cancelled"
        assert not child.cancelled_caught
    # The child lets the parent's Cancelled through (bare, or in trio's nursery groups);
    # it does not raise ScopeTimeout itself.
    [error] = out_of_child
    assert only_cancelled(error)
    child_end, parent_end = ended(events, "child"), ended(events, "parent")
    assert child_end.status == "cancelled"
    assert child_end.cancel_reason == "deadline exceeded"
    assert parent_end.cancel_reason == "deadline exceeded"
    assert child_end.seq < parent_end.seq


async def test_timeout_zero_times_out_at_once_with_paired_events(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with actrio.open_actor_system() as system:
        events: list[actrio.Event] = []
        system.subscribe(events.append)
        t0 = trio.current_time()
        with pytest.raises(actrio.ScopeTimeout):
            async with open_scope("now", timeout=0):
                await trio.sleep(1)
        assert trio.current_time() == t0
    assert started(events, "now").seq < ended(events, "now").seq
    assert ended(events, "now").cancel_reason == "deadline exceeded"


# ---------------------------------------------------------------- cancellation


async def test_cancel_cancels_body_tasks_child_scopes_and_child_actors(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: list[str] = []

    async def task() -> None:
        try:
            await trio.sleep_forever()
        finally:
            log.append("task")

    async def child_in_task() -> None:
        async with open_scope("child-in-task"):
            try:
                await trio.sleep_forever()
            finally:
                log.append("child-in-task")

    async def canceller(scope: actrio.Scope) -> None:
        await trio.sleep(1)
        scope.cancel("stop all")

    async with actrio.open_actor_system() as system:
        events: list[actrio.Event] = []
        system.subscribe(events.append)
        async with open_scope("outer") as outer:
            async with open_scope("k") as k:
                outer.start_soon(canceller, k)
                k.start_soon(task)
                k.start_soon(child_in_task)
                ref = await k.spawn(Sleeper(log), name="sleeper")
                await ref.tell(Nudge())
                async with open_scope("inline-child"):
                    try:
                        await trio.sleep_forever()
                    finally:
                        log.append("inline-child")
                log.append("body continued")  # never: the body is cancelled too
            assert k.status == "cancelled"
            assert k.cancelled_caught
            assert k.cancel_reason == "stop all"
            assert not ref.alive
            # S-11-style leak check: no task of the cancelled subtree is left.
            assert not [name for name in task_names() if k.path in name]
    assert sorted(log) == ["actor", "child-in-task", "inline-child", "task"]
    for name in ("k", "inline-child", "child-in-task"):
        end = ended(events, name)
        assert end.status == "cancelled"
        assert end.cancel_reason == "stop all"
    assert ended(events, "outer").status == "ok"
    actor_exits = [e for e in of_type(events, actrio.ActorExited) if e.path == ref.path]
    assert len(actor_exits) == 1
    assert actor_exits[0].seq < ended(events, "k").seq


async def test_cancel_first_reason_wins_and_reason_must_be_a_string() -> None:
    async with actrio.open_actor_system() as system:
        events: list[actrio.Event] = []
        system.subscribe(events.append)
        async with open_scope("c") as scope:
            with pytest.raises(actrio.UsageError, match="reason"):
                scope.cancel(3)  # type: ignore[arg-type]
            assert scope.cancel_reason is None
            scope.cancel("first")
            scope.cancel("second")
            assert scope.cancel_reason == "first"
            await trio.sleep(0)
            pytest.fail("the body must be cancelled at its next checkpoint")
    assert ended(events, "c").cancel_reason == "first"


async def test_cancel_with_default_reason() -> None:
    async with actrio.open_actor_system() as system:
        events: list[actrio.Event] = []
        system.subscribe(events.append)
        async with open_scope("c") as scope:
            scope.cancel()
            await trio.sleep(0)
    assert ended(events, "c").cancel_reason == "cancelled"


async def test_scope_cancel_message_through_the_ref() -> None:
    async with actrio.open_actor_system() as system:
        events: list[actrio.Event] = []
        system.subscribe(events.append)
        async with open_scope("told") as scope, open_scope("told-child"):
            await scope.ref.tell(actrio.ScopeCancel("r"))
            await trio.sleep_forever()
        assert scope.status == "cancelled"
        assert scope.cancelled_caught
        assert scope.cancel_reason == "r"
    assert ended(events, "told").cancel_reason == "r"
    assert ended(events, "told-child").cancel_reason == "r"


async def test_ref_stop_from_inside_ends_the_scope_cancelled() -> None:
    reached = []
    async with actrio.open_actor_system() as system:
        events: list[actrio.Event] = []
        system.subscribe(events.append)
        async with open_scope("st") as scope:
            await scope.ref.stop()
            reached.append("after stop")
        assert scope.status == "cancelled"
        assert scope.cancelled_caught
    assert reached == []
    assert ended(events, "st").status == "cancelled"


async def test_ref_stop_from_another_task_waits_until_the_scope_ended() -> None:
    seen: dict[str, Any] = {}

    async def stopper(scope: actrio.Scope) -> None:
        await scope.ref.stop()
        seen["alive"] = scope.ref.alive

    async with actrio.open_actor_system() as system:
        events: list[actrio.Event] = []
        system.subscribe(events.append)
        async with open_scope("outer") as outer, open_scope("victim") as victim:
            outer.start_soon(stopper, victim)
            await trio.sleep_forever()
        assert victim.status == "cancelled"
    assert seen == {"alive": False}
    assert ended(events, "victim").status == "cancelled"
    assert ended(events, "outer").status == "ok"


async def test_enclosing_trio_cancel_scope_ends_the_scope_cancelled(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with actrio.open_actor_system() as system:
        events: list[actrio.Event] = []
        system.subscribe(events.append)
        with trio.move_on_after(1) as cancel_scope:
            async with open_scope("f") as scope, open_scope("f-child"):
                await trio.sleep(5)
        assert cancel_scope.cancelled_caught
        assert scope.status == "cancelled"
        assert not scope.cancelled_caught
    for name in ("f", "f-child"):
        end = ended(events, name)
        assert end.status == "cancelled"
        assert end.cancel_reason == "cancelled from outside the scope"
    assert ended(events, "f-child").seq < ended(events, "f").seq


async def test_cancel_after_the_scope_ended_changes_nothing() -> None:
    async with actrio.open_actor_system() as system:
        events: list[actrio.Event] = []
        system.subscribe(events.append)
        async with open_scope("done") as scope:
            pass
        scope.cancel("too late")
        assert scope.status == "ok"
        assert not scope.cancelled_caught
    assert ended(events, "done").status == "ok"


# ---------------------------------------------------------------- errors


async def test_body_exception_is_reraised_unchanged_and_recorded() -> None:
    error = NoisyError("boom")
    async with actrio.open_actor_system() as system:
        events: list[actrio.Event] = []
        system.subscribe(events.append)
        holder: dict[str, actrio.Scope] = {}

        async def body() -> None:
            async with open_scope("outer") as outer, open_scope("inner") as inner:
                holder.update(outer=outer, inner=inner)
                await trio.sleep(0)
                raise error

        with pytest.raises(NoisyError) as excinfo:
            await body()
        outer, inner = holder["outer"], holder["inner"]
        assert excinfo.value is error
        assert not isinstance(excinfo.value, BaseExceptionGroup)
        assert inner.status == "error"
        assert outer.status == "error"
    for name in ("inner", "outer"):
        end = ended(events, name)
        assert end.status == "error"
        assert end.error == actrio.ErrorInfo(type="NoisyError", message="boom")
        assert end.cancel_reason is None
    assert ended(events, "inner").seq < ended(events, "outer").seq


async def test_failing_start_soon_task_fails_the_scope() -> None:
    reached = []

    async def bad() -> None:
        await trio.sleep(0)
        raise NoisyError("task failed")

    async with actrio.open_actor_system() as system:
        events: list[actrio.Event] = []
        system.subscribe(events.append)
        holder: dict[str, actrio.Scope] = {}

        async def body() -> None:
            async with open_scope("tasky") as scope:
                holder["scope"] = scope
                scope.start_soon(bad)
                await trio.sleep_forever()
                reached.append("body")

        with pytest.raises(BaseExceptionGroup) as excinfo:
            await body()
        assert holder["scope"].status == "error"
    leaves = excinfo.value.split(NoisyError)
    assert leaves[0] is not None
    assert leaves[1] is None  # nothing but the task's error
    assert reached == []
    end = ended(events, "tasky")
    assert end.status == "error"
    assert end.error is not None


async def test_failing_start_soon_task_comes_out_in_one_group_like_a_nursery() -> None:
    async def bad() -> None:
        raise NoisyError("task failed")

    async with actrio.open_actor_system():

        async def body() -> None:
            async with open_scope("tasky") as scope:
                scope.start_soon(bad)
                await trio.sleep_forever()

        with pytest.raises(BaseExceptionGroup) as excinfo:
            await body()
    assert [type(e) for e in excinfo.value.exceptions] == [NoisyError]


@pytest.mark.parametrize("who", ["itself", "its parent"])
async def test_body_exception_while_being_cancelled_is_reraised_unchanged(who: str) -> None:
    error = NoisyError("late failure")
    caught: list[BaseException] = []
    async with actrio.open_actor_system() as system:
        events: list[actrio.Event] = []
        system.subscribe(events.append)
        try:
            async with open_scope("parent") as parent, open_scope("child") as child:
                (child if who == "itself" else parent).cancel("stop")
                raise error
        except BaseException as exc:
            caught.append(exc)
    assert caught == [error]
    assert ended(events, "child").status == "error"
    assert ended(events, "child").error == actrio.ErrorInfo(
        type="NoisyError", message="late failure"
    )


async def _task_with_a_nursery() -> None:
    # Cancelled from outside, a task holding a plain trio nursery raises
    # BaseExceptionGroup([Cancelled, Cancelled]), not a bare Cancelled.
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.sleep_forever)
        await trio.sleep_forever()


@pytest.mark.parametrize("who", ["itself", "its parent"])
async def test_body_exception_while_being_cancelled_with_a_nursery_task_is_unchanged(
    who: str,
) -> None:
    error = NoisyError("late failure")
    caught: list[BaseException] = []
    async with actrio.open_actor_system() as system:
        events: list[actrio.Event] = []
        system.subscribe(events.append)
        try:
            async with open_scope("parent") as parent, open_scope("child") as child:
                child.start_soon(_task_with_a_nursery)
                await trio.sleep(0.01)
                (child if who == "itself" else parent).cancel("stop")
                raise error
        except BaseException as exc:
            caught.append(exc)
    assert caught == [error]
    assert ended(events, "child").error == actrio.ErrorInfo(
        type="NoisyError", message="late failure"
    )


# ---------------------------------------------------------------- bad arguments


NAN = float("nan")


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"name": ""}, "name"),
        ({"name": 3}, "name"),
        ({"kind": "agent"}, "kind"),
        ({"attributes": 1}, "attributes"),
        ({"attributes": "parallel"}, "attributes"),
        ({"timeout": -1}, "timeout"),
        ({"timeout": NAN}, "timeout"),
        ({"timeout": "1"}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"deadline": NAN}, "deadline"),
        ({"deadline": "soon"}, "deadline"),
        ({"deadline": None}, "deadline"),
        ({"data": {1, 2}}, r"^data: set"),
        ({"data": NAN}, r"^data: nan"),
        ({"data": math.inf}, r"^data: inf"),
        ({"data": {1: "x"}}, r"^data: key 1"),
        ({"data": {"nested": [b"bytes"]}}, r"^data\['nested'\]\[0\]"),
        ({"metadata": {"k": {3}}}, r"^metadata\['k'\]"),
        ({"data_schema": {"a": object()}}, r"^data_schema\['a'\]"),
        ({"category_profile": {2: 1}}, r"^category_profile: key 2"),
    ],
)
async def test_bad_arguments_are_usage_errors_naming_the_argument(
    kwargs: dict[str, Any], pattern: str
) -> None:
    options = {"name": "ok", **kwargs}
    async with actrio.open_actor_system() as system:
        events: list[actrio.Event] = []
        system.subscribe(events.append)
        before = system.statistics().last_seq
        with pytest.raises(actrio.UsageError, match=pattern):
            async with open_scope(**options):
                pytest.fail("must not run")
        assert system.statistics().last_seq == before
    assert of_type(events, actrio.ScopeStarted) == []


async def test_open_scope_outside_any_system_is_a_usage_error() -> None:
    with pytest.raises(actrio.UsageError, match="outside an actor system"):
        async with open_scope("nowhere"):
            pytest.fail("must not run")
    assert actrio.current_scope() is None


async def test_work_after_the_scope_ended_is_refused() -> None:
    async with actrio.open_actor_system(), open_scope("root"):
        async with open_scope("gone") as gone:
            pass
        with pytest.raises(actrio.UsageError, match="ended"):
            gone.start_soon(trio.sleep, 0)
        with pytest.raises(actrio.ActorStopped, match="ended"):
            await gone.spawn(Sleeper([]))
        with pytest.raises(actrio.UsageError, match="ended"):
            gone.subscribe(lambda event: None)
        with pytest.raises(actrio.UsageError, match="ended"):
            gone.stream()
        with pytest.raises(actrio.UsageError, match="ended"):
            _ = gone.middleware
        assert not gone.ref.alive
        with pytest.raises(actrio.ActorStopped):
            await gone.ref.tell(actrio.ScopeCancel("late"))


async def test_start_soon_from_a_task_while_the_scope_waits_is_awaited_like_a_nursery(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: list[str] = []

    async def late_work() -> None:
        await trio.sleep(1)
        log.append("late work")

    async def starter(scope: actrio.Scope) -> None:
        await trio.sleep(1)  # the body has finished by now; the scope waits for this task
        scope.start_soon(late_work)
        log.append("started")

    async with actrio.open_actor_system() as system:
        events: list[actrio.Event] = []
        system.subscribe(events.append)
        t0 = trio.current_time()
        async with open_scope("s") as scope:
            scope.start_soon(starter, scope)
        assert trio.current_time() == t0 + 2
    assert log == ["started", "late work"]
    assert ended(events, "s").status == "ok"


# ---------------------------------------------------------------- scope-local observers


async def test_scope_subscribe_and_stream_see_only_their_subtree(
    autojump_clock: trio.testing.MockClock,
) -> None:
    local: list[actrio.Event] = []
    everything: list[actrio.Event] = []
    holder: dict[str, Any] = {}

    async def watched() -> None:
        async with open_scope("A") as a:
            holder["sub"] = a.subscribe(local.append)
            holder["stream"] = a.stream()
            holder["a"] = a
            async with open_scope("A1"):
                await trio.sleep(1)
                await actrio.mark("in-a1")
            await actrio.mark("in-a")
            await trio.sleep(1)

    async def sibling() -> None:
        async with open_scope("B"):
            for i in range(8):
                await actrio.mark(f"in-b-{i}")
                await trio.sleep(0.5)

    async with actrio.open_actor_system() as system:
        system.subscribe(everything.append)
        async with open_scope("root") as root:
            root.start_soon(watched)
            root.start_soon(sibling)
            await trio.sleep(3)  # A has ended; B is still marking
            assert system.statistics().subscribers == 1  # the scope's ones are finished
            await actrio.mark("in-root-after-a")
        streamed = [event async for event in holder["stream"]]
    a_path = holder["a"].path
    for events in (local, streamed):
        assert events, "the scope-local observer got nothing"
        assert all(e.path == a_path or e.path.startswith(a_path + "/") for e in events)
        assert [e.name for e in of_type(events, actrio.Mark)] == ["in-a1", "in-a"]
        assert [e.name for e in of_type(events, actrio.ScopeStarted)] == ["A1"]
        assert [e.name for e in of_type(events, actrio.ScopeEnded)] == ["A1", "A"]
        assert isinstance(events[-1], actrio.ScopeEnded)  # nothing after its own end
        assert events[-1].name == "A"
        seqs = [e.seq for e in events]
        assert seqs == sorted(seqs)
    assert local == streamed
    global_marks = [e.name for e in of_type(everything, actrio.Mark)]
    assert [f"in-b-{i}" for i in range(8)] == [n for n in global_marks if n.startswith("in-b")]
    assert "in-root-after-a" in global_marks


# ---------------------------------------------------------------- marks


async def test_mark_outside_scopes_and_with_explicit_scope() -> None:
    async with actrio.open_actor_system() as system:
        events: list[actrio.Event] = []
        system.subscribe(events.append)
        top_id = await actrio.mark("top", data={"n": 1}, metadata=[1, 2], category="note")
        async with open_scope("outer") as outer:
            in_outer = await actrio.mark("in-outer")
            async with open_scope("inner") as inner:
                in_inner = await actrio.mark(
                    "in-inner", category_profile={"p": 1}, data_schema={"type": "x"}
                )
                explicit = await actrio.mark("explicit", scope=outer)
    marks = {e.name: e for e in of_type(events, actrio.Mark)}
    assert marks["top"].uuid == top_id
    assert marks["top"].parent_uuid is None
    assert marks["top"].path is None
    assert marks["top"].data == {"n": 1}
    assert marks["top"].metadata == [1, 2]
    assert marks["top"].category == "note"
    assert marks["in-outer"].uuid == in_outer
    assert marks["in-outer"].parent_uuid == outer.uuid
    assert marks["in-outer"].path == started(events, "outer").path
    assert marks["in-inner"].uuid == in_inner
    assert marks["in-inner"].parent_uuid == inner.uuid
    assert marks["in-inner"].category_profile == {"p": 1}
    assert marks["in-inner"].data_schema == {"type": "x"}
    assert marks["explicit"].uuid == explicit
    assert marks["explicit"].parent_uuid == outer.uuid
    assert marks["explicit"].path == started(events, "outer").path
    assert len({top_id, in_outer, in_inner, explicit}) == 4
    # Marks sit between their scope's start and end.
    assert started(events, "inner").seq < marks["in-inner"].seq < ended(events, "inner").seq


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"name": ""}, "name"),
        ({"name": None}, "name"),
        ({"category": 5}, "category"),
        ({"data": {1}}, r"^data: set"),
        ({"metadata": NAN}, r"^metadata: nan"),
        ({"category_profile": {1: 2}}, r"^category_profile: key 1"),
        ({"data_schema": {"a": {2}}}, r"^data_schema\['a'\]"),
        ({"scope": "outer"}, "scope"),
    ],
)
async def test_mark_bad_arguments_are_usage_errors(kwargs: dict[str, Any], pattern: str) -> None:
    options = {"name": "m", **kwargs}
    async with actrio.open_actor_system() as system:
        events: list[actrio.Event] = []
        system.subscribe(events.append)
        with pytest.raises(actrio.UsageError, match=pattern):
            await actrio.mark(**options)
    assert of_type(events, actrio.Mark) == []


async def test_mark_on_an_ended_scope_or_outside_a_system_is_a_usage_error() -> None:
    with pytest.raises(actrio.UsageError, match="outside an actor system"):
        await actrio.mark("nowhere")
    async with actrio.open_actor_system():
        async with open_scope("gone") as gone:
            pass
        with pytest.raises(actrio.UsageError, match="scope"):
            await actrio.mark("late", scope=gone)


async def test_event_timestamps_are_rfc3339_utc_and_ordered(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with actrio.open_actor_system() as system:
        events: list[actrio.Event] = []
        system.subscribe(events.append)
        async with open_scope("t"):
            await actrio.mark("m")
            await trio.sleep(1)
    scope_events = [
        e for e in events if isinstance(e, actrio.ScopeStarted | actrio.ScopeEnded | actrio.Mark)
    ]
    assert len(scope_events) == 3
    stamps = []
    for event in scope_events:
        stamp = datetime.datetime.fromisoformat(event.timestamp)
        assert stamp.tzinfo is not None
        assert stamp.utcoffset() == datetime.timedelta(0)
        assert "T" in event.timestamp
        stamps.append(stamp)
    assert stamps == sorted(stamps)


# ---------------------------------------------------------------- S-20 deep trees


async def test_s20_deep_nesting_cancelled_from_the_root_ends_every_scope() -> None:
    depth = 120
    opened: list[actrio.Scope] = []

    async def nest(level: int) -> None:
        async with open_scope(f"d{level}") as scope:
            opened.append(scope)
            if level + 1 < depth:
                await nest(level + 1)
            else:
                opened[0].cancel("root cancelled")
                await trio.sleep_forever()

    async with actrio.open_actor_system() as system:
        events: list[actrio.Event] = []
        system.subscribe(events.append)
        await nest(0)
    ends = of_type(events, actrio.ScopeEnded)
    assert [e.name for e in ends] == [f"d{level}" for level in reversed(range(depth))]
    assert {e.status for e in ends} == {"cancelled"}
    assert {e.cancel_reason for e in ends} == {"root cancelled"}
    assert all(s.parent is (opened[i - 1] if i else None) for i, s in enumerate(opened))


# ---------------------------------------------------------------- S-21 checkpoints


async def _open_a_scope() -> None:
    async with open_scope("must-not-open"):
        pytest.fail("must not run")


async def _make_a_mark() -> None:
    await actrio.mark("must-not-mark")


async def _run_a_tool() -> None:
    async def impl(args: Any) -> Any:
        pytest.fail("the tool must not run")

    await actrio.tools.execute("must-not-run", {"x": 1}, impl)


PRECANCELLED_CALLS = [
    pytest.param(_open_a_scope, id="open_scope"),
    pytest.param(_make_a_mark, id="mark"),
    pytest.param(_run_a_tool, id="tools.execute"),
]


@pytest.mark.parametrize("call", PRECANCELLED_CALLS)
async def test_s21_precancelled_trio_scope_raises_cancelled_and_publishes_nothing(
    call: Any,
) -> None:
    async with actrio.open_actor_system() as system:
        events: list[actrio.Event] = []
        system.subscribe(events.append)
        async with open_scope("host"):
            before = system.statistics().last_seq
            with trio.CancelScope() as cancel_scope:
                cancel_scope.cancel()
                with pytest.raises(trio.Cancelled):
                    await call()
            assert system.statistics().last_seq == before
    assert scope_names(events) == {"host"}
    assert of_type(events, actrio.Mark) == []


@pytest.mark.parametrize("call", PRECANCELLED_CALLS)
async def test_s21_cancelled_actrio_scope_raises_cancelled_and_publishes_nothing(
    call: Any,
) -> None:
    seqs: dict[str, int] = {}
    async with actrio.open_actor_system() as system:
        events: list[actrio.Event] = []
        system.subscribe(events.append)
        async with open_scope("host") as host:
            host.cancel("precancelled")
            seqs["before"] = system.statistics().last_seq
            try:
                await call()
            except trio.Cancelled:
                seqs["after"] = system.statistics().last_seq
                raise
        assert host.cancelled_caught
    assert seqs["after"] == seqs["before"]
    assert scope_names(events) == {"host"}
    assert of_type(events, actrio.Mark) == []
    assert ended(events, "host").cancel_reason == "precancelled"


async def test_s21_open_scope_and_mark_are_checkpoints_on_the_fast_path() -> None:
    async with actrio.open_actor_system():  # no subscriber: nothing to wait for
        with trio.testing.assert_checkpoints():
            await actrio.mark("m")
        with trio.testing.assert_checkpoints():
            async with open_scope("s"):
                pass


# ---------------------------------------------------------------- S-13 end event survives


class HeldSubscriber:
    """A lossless subscriber whose handler blocks on a gate once ``hold`` is set."""

    def __init__(self) -> None:
        self.hold = False
        self.gate = trio.Event()
        self.received: list[actrio.Event] = []

    async def __call__(self, event: actrio.Event) -> None:
        if self.hold:
            await self.gate.wait()
        self.received.append(event)

    async def fill(self, sub: actrio.Subscription) -> None:
        """Block the handler and fill its queue with marks; return once it is full."""
        await trio.sleep(0.1)  # let the handler take what is queued
        assert sub.statistics().queued == 0
        self.hold = True
        capacity = sub.statistics().capacity
        for i in range(capacity + 1):  # one in the blocked handler, the rest queued
            await actrio.mark(f"fill-{i}")
        await trio.sleep(0.1)
        assert sub.statistics().queued == capacity

    async def open_gate_after(self, seconds: float) -> None:
        await trio.sleep(seconds)
        self.gate.set()


async def test_s13_end_event_is_published_when_cancelled_mid_await_with_a_full_queue(
    autojump_clock: trio.testing.MockClock,
) -> None:
    held = HeldSubscriber()
    queued_at_cancel: list[int] = []

    async def cancel_later(scope: actrio.Scope, sub: actrio.Subscription) -> None:
        await trio.sleep(1)
        queued_at_cancel.append(sub.statistics().queued)
        scope.cancel("mid-await")

    async with actrio.open_actor_system() as system:
        sub = system.subscribe(held, capacity=2)
        async with trio.open_nursery() as nursery:
            async with open_scope("outer") as outer, open_scope("victim") as victim:
                outer.start_soon(cancel_later, victim, sub)
                async with open_scope("victim-child"):
                    await held.fill(sub)
                    nursery.start_soon(held.open_gate_after, 3)  # inside the end grace
                    await trio.sleep_forever()
            assert victim.status == "cancelled"
            assert trio.current_time() >= 3  # the end events waited for room
    assert queued_at_cancel == [2]  # the lossless queue was full when the cancel came
    ends = {e.name: e for e in of_type(held.received, actrio.ScopeEnded)}
    assert set(ends) == {"outer", "victim", "victim-child"}
    assert ends["victim"].cancel_reason == "mid-await"
    assert ends["victim-child"].cancel_reason == "mid-await"
    assert ends["victim-child"].seq < ends["victim"].seq < ends["outer"].seq
    seqs = [e.seq for e in held.received]
    assert seqs == list(range(1, len(seqs) + 1))  # lossless, no gap


async def test_s13_end_event_survives_an_enclosing_cancel_with_a_full_queue(
    autojump_clock: trio.testing.MockClock,
) -> None:
    held = HeldSubscriber()
    async with actrio.open_actor_system() as system:
        sub = system.subscribe(held, capacity=1)
        async with trio.open_nursery() as nursery:
            with trio.move_on_after(1) as cancel_scope:
                async with open_scope("cut"):
                    await held.fill(sub)
                    nursery.start_soon(held.open_gate_after, 2.5)
                    await trio.sleep_forever()
            assert cancel_scope.cancelled_caught
    end = [e for e in of_type(held.received, actrio.ScopeEnded) if e.name == "cut"]
    assert len(end) == 1
    assert end[0].cancel_reason == "cancelled from outside the scope"
    assert end[0].time >= 2.5  # published after the gate opened, not dropped
    seqs = [e.seq for e in held.received]
    assert seqs == list(range(1, len(seqs) + 1))
