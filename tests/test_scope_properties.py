"""Property tests of scopes (DESIGN.md "Invariants") and of scope-local middleware.

Each hypothesis example runs its own ``trio.run`` on a virtual clock from a
sync ``@given`` test (pytest-trio fixtures do not mix with ``@given``):

- random trees of nested scopes (depth <= 5, fan-out <= 4) whose nodes return,
  raise, sleep, cancel themselves or their parent, have timeouts and open
  their children inline or concurrently; one lossless subscriber checks that
  every ScopeStarted has one ScopeEnded, children end before parents, parent
  links follow the actor tree, seq numbers have no gap, and each status says
  what the node did;
- scope-local middleware never runs outside its scope's subtree, however
  sibling scopes interleave;
- middleware runs in priority order (ties: runtime, outer, inner scopes, then
  registration order) across the runtime and nested scopes;
- the classic stack-corruption scenario: concurrent siblings opening and
  closing nested scopes in interleaved order (what breaks stack-based scopes
  under ``asyncio.gather``) each keep their own scope chain.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any, Literal

import attrs
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

import actrio
from actrio import open_scope

if TYPE_CHECKING:
    from collections.abc import Callable

Action = Literal["return", "raise", "sleep", "cancel_self", "cancel_parent"]

MAX_DEPTH = 5
MAX_FANOUT = 4
MAX_NODES = 14


class NodeError(Exception):
    """What a node with action ``raise`` raises; its message is the node id."""


def run_virtual(main: Callable[[], Any]) -> None:
    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def only_cancelled(error: BaseException) -> bool:
    if isinstance(error, BaseExceptionGroup):
        return error.split(trio.Cancelled)[1] is None
    return isinstance(error, trio.Cancelled)


# ---------------------------------------------------------------- scope trees


@attrs.frozen
class Node:
    """One scope of a generated tree: what its body does."""

    action: Action
    pause: float  # virtual seconds before the action
    timeout: float | None
    concurrent: bool  # children via scope.start_soon (else inline, one after another)
    children: tuple[Node, ...]


actions = st.sampled_from(["return", "return", "raise", "sleep", "cancel_self", "cancel_parent"])
pauses = st.sampled_from([0.0, 0.0, 0.5, 1.0, 2.0])
timeouts = st.sampled_from([None, None, None, 0.75, 1.5, 3.0])


@st.composite
def trees(draw: st.DrawFn) -> Node:
    budget = [MAX_NODES - 1]

    def node(depth: int) -> Node:
        most = min(MAX_FANOUT, budget[0]) if depth < MAX_DEPTH - 1 else 0
        fanout = draw(st.integers(min_value=0, max_value=most))
        budget[0] -= fanout
        return Node(
            action=draw(actions),
            pause=draw(pauses),
            timeout=draw(timeouts),
            concurrent=draw(st.booleans()),
            children=tuple(node(depth + 1) for _ in range(fanout)),
        )

    return node(0)


@attrs.define
class Record:
    """What the tree run saw from the inside, keyed by node id (= scope name)."""

    handles: dict[str, actrio.Scope] = attrs.field(factory=dict)
    parents: dict[str, actrio.Scope] = attrs.field(factory=dict)
    nodes: dict[str, Node] = attrs.field(factory=dict)
    did: dict[str, str] = attrs.field(factory=dict)
    outcome: dict[str, BaseException | None] = attrs.field(factory=dict)
    first_reason: dict[str, str] = attrs.field(factory=dict)
    problems: list[str] = attrs.field(factory=list)

    def cancel(self, target: actrio.Scope, reason: str) -> None:
        if target.cancel_reason is None:
            self.first_reason[target.name] = reason
        target.cancel(reason)


async def run_child(node: Node, nid: str, parent: actrio.Scope, rec: Record) -> None:
    """Run one node; swallow its own failure, let cancellation through."""
    rec.nodes[nid] = node
    try:
        await run_node(node, nid, parent, rec)
    except BaseException as error:
        rec.outcome[nid] = error
        if isinstance(error, BaseExceptionGroup):
            cancelled, _ = error.split(trio.Cancelled)
            if cancelled is not None:
                raise cancelled from None
        elif isinstance(error, trio.Cancelled):
            raise
    else:
        rec.outcome[nid] = None


async def run_node(node: Node, nid: str, parent: actrio.Scope, rec: Record) -> None:
    async with open_scope(nid, timeout=node.timeout) as scope:
        rec.handles[nid] = scope
        rec.parents[nid] = parent
        if actrio.current_scope() is not scope or scope.parent is not parent:
            rec.problems.append(f"{nid}: wrong current scope or parent at entry")
        rec.did[nid] = "started"
        try:
            for i, child in enumerate(node.children):
                if node.concurrent:
                    scope.start_soon(run_child, child, f"{nid}.{i}", scope, rec)
                else:
                    await run_child(child, f"{nid}.{i}", scope, rec)
                    if actrio.current_scope() is not scope:
                        rec.problems.append(f"{nid}: current scope lost after child {i}")
            await trio.sleep(node.pause)
            if node.action == "raise":
                rec.did[nid] = "raised"
                raise NodeError(nid)
            if node.action == "sleep":
                await trio.sleep(5)
            elif node.action == "cancel_self":
                rec.cancel(scope, f"self:{nid}")
                await trio.sleep(1)
                rec.problems.append(f"{nid}: body ran on after cancelling itself")
            elif node.action == "cancel_parent":
                rec.cancel(parent, f"child:{nid}")
                await trio.sleep(0)
                rec.problems.append(f"{nid}: body ran on after cancelling its parent")
            rec.did[nid] = "returned"
        except BaseException as error:
            if rec.did[nid] == "started" and only_cancelled(error):
                rec.did[nid] = "cancelled"
            raise


def expected_status(nid: str, rec: Record) -> str:
    """What the node did, as a status: the oracle for its ScopeEnded."""
    did, out, scope = rec.did[nid], rec.outcome[nid], rec.handles[nid]
    if did == "raised":
        return "error"
    if did == "cancelled":
        return "cancelled"
    assert did == "returned", (nid, did)
    if out is None:
        return "cancelled" if scope.cancelled_caught else "ok"
    assert isinstance(out, actrio.ScopeTimeout) or only_cancelled(out), (nid, out)
    return "cancelled"


def lineage(nid: str) -> list[str]:
    """The node and its ancestors' ids, innermost first (``n0.1.2`` -> n0.1.2, n0.1, n0)."""
    parts = nid.split(".")
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]


def check_tree_events(events: list[actrio.Event], rec: Record, top: actrio.Scope) -> None:
    starts = [e for e in events if isinstance(e, actrio.ScopeStarted)]
    ends = [e for e in events if isinstance(e, actrio.ScopeEnded)]
    start_of = {e.uuid: e for e in starts}
    end_of = {e.uuid: e for e in ends}
    # (1) one ScopeEnded per ScopeStarted and vice versa; exactly the entered scopes.
    assert len(start_of) == len(starts)
    assert len(end_of) == len(ends)
    assert set(start_of) == set(end_of)
    entered = {h.uuid for h in rec.handles.values()} | {top.uuid}
    assert set(start_of) == entered
    for uuid, first in start_of.items():
        last = end_of[uuid]
        assert (last.name, last.path, last.parent_uuid) == (
            first.name,
            first.path,
            first.parent_uuid,
        )
        assert first.seq < last.seq
    by_path = {e.path: e for e in starts}
    for nid, scope in rec.handles.items():
        first, last = start_of[scope.uuid], end_of[scope.uuid]
        parent = rec.parents[nid]
        # (2) children end before their parent.
        assert last.seq < end_of[parent.uuid].seq, nid
        # (3) parent links: the actor-tree parent is the generated parent.
        tree_parent = by_path[first.path.rsplit("/", 1)[0]]
        assert first.parent_uuid == tree_parent.uuid == parent.uuid, nid
        assert scope.parent is parent
        # (5) the status says what the node did.
        assert last.status == scope.status == expected_status(nid, rec), nid
        if last.status == "error":
            assert last.cancel_reason is None
            assert last.error is not None
            assert last.error == actrio.ErrorInfo(type="NodeError", message=nid), nid
        elif last.status == "cancelled":
            assert last.error is None
            own = rec.first_reason.get(nid)
            if own is not None:
                assert last.cancel_reason == own, nid
            chain = lineage(nid)
            allowed = {rec.first_reason[x] for x in chain if x in rec.first_reason}
            allowed |= {rec.first_reason[top.name]} if top.name in rec.first_reason else set()
            if any(rec.nodes[x].timeout is not None for x in chain):
                allowed.add("deadline exceeded")
            if any(rec.did.get(x) == "raised" for x in chain[1:]):
                # An ancestor's failure cancelled its subtree (structured concurrency).
                allowed.add("cancelled from outside the scope")
            assert last.cancel_reason in allowed, (nid, last.cancel_reason, allowed)
        else:
            assert last.error is None
            assert last.cancel_reason is None
    assert rec.problems == []


def check_gap_free(events: list[actrio.Event], last_seq: int) -> None:
    # (4) a lossless subscriber gets every event, in seq order, with no gap.
    assert [e.seq for e in events] == list(range(1, last_seq + 1))


@given(tree=trees())
def test_random_scope_trees_keep_the_scope_invariants(tree: Node) -> None:
    events: list[actrio.Event] = []
    rec = Record()
    final: dict[str, Any] = {}

    async def main() -> None:
        async with actrio.open_actor_system() as system:
            system.subscribe(events.append, capacity=8)  # small: publishers wait at times
            async with open_scope("top") as top:
                await run_child(tree, "n0", top, rec)
            final["top"] = top
            final["last_seq"] = system.statistics().last_seq

    run_virtual(main)
    check_gap_free(events, final["last_seq"])
    check_tree_events(events, rec, final["top"])


# ---------------------------------------------------------------- scope-local middleware


@attrs.frozen
class Call:
    pause: float
    nested: bool  # made from a child scope of the sibling (still its subtree)


@attrs.frozen
class SiblingPlan:
    registered: bool
    priority: int
    register_after: float  # calls before the registration are not intercepted
    calls: tuple[Call, ...]


sibling_plans = st.lists(
    st.builds(
        SiblingPlan,
        registered=st.booleans(),
        priority=st.integers(min_value=-2, max_value=2),
        register_after=st.sampled_from([0.0, 0.0, 0.3, 1.0]),
        calls=st.lists(
            st.builds(Call, pause=st.sampled_from([0.0, 0.1, 0.5]), nested=st.booleans()),
            min_size=1,
            max_size=4,
        ).map(tuple),
    ),
    min_size=2,
    max_size=6,
)


@given(plans=sibling_plans)
def test_scope_local_middleware_never_runs_outside_its_scope(
    plans: list[SiblingPlan],
) -> None:
    seen: dict[int, list[tuple[int, int]]] = {i: [] for i in range(len(plans))}
    expected: dict[int, list[tuple[int, int]]] = {i: [] for i in range(len(plans))}
    global_seen: list[int] = []
    tool_got: list[Any] = []

    def spy(owner: int) -> Callable[[str, Any], Any]:
        def intercept(tool_name: str, args: Any) -> Any:
            assert tool_name == "probe"
            seen[owner].append((args["caller"], args["n"]))
            return args

        return intercept

    def global_spy(tool_name: str, args: Any) -> Any:
        global_seen.append(args["caller"])
        return args

    async def impl(args: Any) -> Any:
        tool_got.append(args)
        return args["caller"]

    async def call(i: int, n: int, registered: bool) -> None:
        if registered:  # no checkpoint from here to where execute resolves middleware
            expected[i].append((i, n))
        result = await actrio.tools.execute("probe", {"caller": i, "n": n}, impl)
        assert result == i

    async def sibling(i: int, plan: SiblingPlan) -> None:
        registered = False
        async with open_scope(f"s{i}") as scope:
            if plan.registered:

                async def register_later() -> None:
                    nonlocal registered
                    await trio.sleep(plan.register_after)
                    actrio.intercepts.register_tool_request(
                        "spy", plan.priority, spy(i), scope=scope
                    )
                    registered = True

                scope.start_soon(register_later)
            for n, planned in enumerate(plan.calls):
                await trio.sleep(planned.pause)
                if planned.nested:
                    async with open_scope(f"s{i}-child"):
                        await call(i, n, registered)
                else:
                    await call(i, n, registered)

    async def main() -> None:
        async with actrio.open_runtime():
            actrio.intercepts.register_tool_request("global", 0, global_spy)
            async with open_scope("root") as root:
                for i, plan in enumerate(plans):
                    root.start_soon(sibling, i, plan)
            # Scope-local middleware was dropped with its scope.
            await call(-1, 0, registered=False)
            async with open_scope("later"):
                await call(-2, 0, registered=False)

    run_virtual(main)
    total = sum(len(plan.calls) for plan in plans)
    assert len(global_seen) == len(tool_got) == total + 2
    for i, plan in enumerate(plans):
        # Exactly the calls of its own subtree made after it was registered.
        assert seen[i] == expected[i], f"s{i}"
        if not plan.registered:
            assert seen[i] == []
    assert sorted(global_seen) == sorted(
        [-1, -2, *(i for i, p in enumerate(plans) for _ in p.calls)]
    )


@attrs.frozen
class Registration:
    tier: int  # 0: the runtime; k: the k-th nested scope (outermost is 1)
    name: str
    priority: int
    is_async: bool


@st.composite
def registration_plans(draw: st.DrawFn) -> tuple[int, list[Registration]]:
    depth = draw(st.integers(min_value=0, max_value=3))
    ops = draw(
        st.lists(
            st.builds(
                Registration,
                tier=st.integers(min_value=0, max_value=depth),
                name=st.sampled_from(["a", "b", "c", "d"]),
                priority=st.integers(min_value=0, max_value=2),
                is_async=st.booleans(),
            ),
            min_size=1,
            max_size=10,
        )
    )
    return depth, ops


@given(plan=registration_plans())
def test_middleware_runs_in_priority_order_across_runtime_and_scopes(
    plan: tuple[int, list[Registration]],
) -> None:
    depth, ops = plan
    request_order: list[str] = []
    execution_log: list[str] = []

    def request_spy(label: str, is_async: bool) -> Callable[..., Any]:
        def sync_spy(tool_name: str, args: Any) -> Any:
            request_order.append(label)
            return args

        async def async_spy(tool_name: str, args: Any) -> Any:
            await trio.sleep(0)
            return sync_spy(tool_name, args)

        return async_spy if is_async else sync_spy

    def execution_spy(label: str) -> Callable[..., Any]:
        async def wrap(tool_name: str, args: Any, next_: Callable[[Any], Any]) -> Any:
            execution_log.append(f"enter {label}")
            result = await next_(args)
            execution_log.append(f"exit {label}")
            return result

        return wrap

    async def impl(args: Any) -> Any:
        execution_log.append("tool")
        return "done"

    async def nest(level: int, scopes: list[actrio.Scope]) -> None:
        if level < depth:
            async with open_scope(f"level{level + 1}") as scope:
                await nest(level + 1, [*scopes, scope])
            return
        for index, op in enumerate(ops):
            label = f"{op.tier}:{op.name}:{index}"
            target = None if op.tier == 0 else scopes[op.tier - 1]
            actrio.intercepts.register_tool_request(
                op.name, op.priority, request_spy(label, op.is_async), scope=target
            )
            actrio.intercepts.register_tool_execution(
                op.name, op.priority, execution_spy(label), scope=target
            )
        assert await actrio.tools.execute("t", {"x": 1}, impl) == "done"

    async def main() -> None:
        async with actrio.open_runtime():
            await nest(0, [])

    run_virtual(main)
    live: dict[tuple[int, str], tuple[int, int]] = {}
    for index, op in enumerate(ops):
        live[op.tier, op.name] = (op.priority, index)  # a re-registration replaces, counts last
    ranked = sorted(live.items(), key=lambda item: (item[1][0], item[0][0], item[1][1]))
    expected = [f"{tier}:{name}:{index}" for (tier, name), (_, index) in ranked]
    assert request_order == expected
    assert execution_log == [
        *(f"enter {label}" for label in expected),
        "tool",
        *(f"exit {label}" for label in reversed(expected)),
    ]


# ---------------------------------------------------------------- stack corruption


async def test_stack_corruption_interleaved_siblings_keep_their_own_scope_chain(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """50 concurrent siblings open and close nested scopes with random sleeps between.

    With a stack of scopes shared by the tasks (NeMo-style push/pop under
    ``asyncio.gather``), task B's push lands on top of task A's, so A's next
    scope gets B's as parent and A's pop removes B's. Here each task's scope
    chain follows its own place in the actor tree.
    """
    rng = random.Random(20240917)
    workers = 50
    delays = [
        [rng.choice([0.0, 0.01, 0.1, 0.25, 0.5, 1.0]) for _ in range(7)] for _ in range(workers)
    ]
    expected_parent: dict[str, str] = {}
    mark_parent: dict[str, str] = {}
    problems: list[str] = []

    def check(scope: actrio.Scope, parent: actrio.Scope) -> None:
        expected_parent[scope.name] = parent.uuid
        if actrio.current_scope() is not scope:
            problems.append(f"{scope.name}: current_scope() is not the scope at entry")
        if scope.parent is not parent:
            problems.append(f"{scope.name}: parent is {scope.parent!r}")

    def still_in(scope: actrio.Scope, where: str) -> None:
        if actrio.current_scope() is not scope:
            problems.append(f"{where}: current_scope() is {actrio.current_scope()!r}")

    async def worker(i: int, root: actrio.Scope) -> None:
        d = delays[i]
        await trio.sleep(d[0])
        async with open_scope(f"w{i}") as a:
            check(a, root)
            await trio.sleep(d[1])
            async with open_scope(f"w{i}.b") as b:
                check(b, a)
                await trio.sleep(d[2])
                async with open_scope(f"w{i}.b.c") as c:
                    check(c, b)
                    await trio.sleep(d[3])
                    still_in(c, f"w{i}.b.c after sleep")
                    await actrio.mark(f"m{i}.c")
                    mark_parent[f"m{i}.c"] = c.uuid
                still_in(b, f"w{i}.b after closing c")
                await trio.sleep(d[4])
                still_in(b, f"w{i}.b after sleep")
            still_in(a, f"w{i} after closing b")
            await trio.sleep(d[5])
            async with open_scope(f"w{i}.d") as d_scope:
                check(d_scope, a)
                await trio.sleep(d[6])
                still_in(d_scope, f"w{i}.d after sleep")
                await actrio.mark(f"m{i}.d")
                mark_parent[f"m{i}.d"] = d_scope.uuid
            still_in(a, f"w{i} after closing d")
        still_in(root, f"worker {i} after closing its scopes")

    async with actrio.open_actor_system() as system:
        events: list[actrio.Event] = []
        system.subscribe(events.append)
        async with open_scope("root") as root:
            for i in range(workers):
                root.start_soon(worker, i, root)
    assert problems == []
    starts = {e.name: e for e in events if isinstance(e, actrio.ScopeStarted)}
    assert len(starts) == 1 + 4 * workers
    by_uuid = {e.uuid: e for e in starts.values()}
    for name, parent_uuid in expected_parent.items():
        event = starts[name]
        assert event.parent_uuid == parent_uuid, name
        assert event.path.startswith(by_uuid[parent_uuid].path + "/"), name
    marks = [e for e in events if isinstance(e, actrio.Mark)]
    assert len(marks) == 2 * workers
    for event in marks:
        assert event.parent_uuid == mark_parent[event.name], event.name
    # The opens and closes really interleaved: some scope opened while another
    # worker's scope of the same depth was open, and closed before it.
    order = [
        (type(e).__name__, e.name)
        for e in events
        if isinstance(e, actrio.ScopeStarted | actrio.ScopeEnded) and e.name.endswith(".b")
    ]
    opened: list[str] = []
    crossed = False
    for kind, name in order:
        if kind == "ScopeStarted":
            opened.append(name)
        else:
            crossed = crossed or opened[-1] != name
            opened.remove(name)
    assert crossed, "the scenario did not interleave; pick other delays"
