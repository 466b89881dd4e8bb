"""Hypothesis strategies for policy expressions and policies (SH-11, SH-12).

- :func:`expressions`: condition trees over bound *string* values, built
  from the ``str`` methods, ``in`` lists, comparisons and bool literals,
  combined with ``not``/``and``/``or``; with ``errors=True`` some leaves fail
  when evaluated (an unknown method), to exercise the fail-closed rules.
- :func:`bindings`: bound values to evaluate those trees with.
- :func:`policies`: valid :class:`PolicySpec` values using every construct
  the text form can write (refs of every kind, chained methods, literals of
  every type, requirements, examples), for round trips.
- :func:`policy_texts`: valid text for :func:`parse_policies`, with comments,
  blank lines and unnamed policies mixed in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
from hypothesis import strategies as st

from actrio.policy._spec import (
    Example,
    ExprSpec,
    PolicySpec,
    RefSpec,
    RequireSpec,
    TriggerSpec,
)
from actrio.policy._text import render_policy

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = (
    "DEFAULT_VALUES",
    "bindings",
    "examples",
    "expressions",
    "json_values",
    "policies",
    "policy_texts",
)

DEFAULT_VALUES: tuple[str, ...] = ("", "a", "b", "ab", "ba", "git", "git status", "python run.py")
"""Few, overlapping strings, so predicates come out both true and false."""

_STR_TESTS = ("eq", "starts_with", "ends_with", "contains")
_NAMES = ("command", "path", "p", "candidate_path", "x1", "not", "input", "node", "if")
_METHODS = ("eq", "starts_with", "contains", "runs", "program", "in", "not", "m")
_CAPABILITIES = ("os.shell", "fs.write", "fs.read", "user.confirm", "match.x", "a")


def _ref(kind: str, name: str, path: tuple[str, ...] = ()) -> ExprSpec:
    return ExprSpec(kind="ref", ref=RefSpec(kind=kind, name=name, path=path))  # type: ignore[arg-type]


def _string(value: str) -> ExprSpec:
    return ExprSpec(kind="literal", type="string", value=value)


def _call(receiver: ExprSpec, method: str, *args: ExprSpec) -> ExprSpec:
    return ExprSpec(kind="method_call", receiver=receiver, method=method, args=args)


def _combine(children: st.SearchStrategy[ExprSpec]) -> st.SearchStrategy[ExprSpec]:
    many = st.lists(children, min_size=2, max_size=3).map(tuple)
    return st.one_of(
        children.map(lambda e: ExprSpec(kind="not", expr=e)),
        many.map(lambda es: ExprSpec(kind="and", exprs=es)),
        many.map(lambda es: ExprSpec(kind="or", exprs=es)),
    )


def expressions(
    bound_names: Sequence[str] = ("command",),
    values: Sequence[str] = DEFAULT_VALUES,
    *,
    errors: bool = False,
    sugar: bool = False,
    max_leaves: int = 8,
) -> st.SearchStrategy[ExprSpec]:
    """Condition trees over bound string values.

    Args:
        bound_names: The bound names the leaves read.
        values: The strings the leaves compare with.
        errors: Also draw leaves that fail when evaluated (``x.explode()``).
        sugar: Also draw ``in`` kind nodes (which the text form lowers).
        max_leaves: Upper bound on the leaves of one tree.
    """
    refs = st.sampled_from(list(bound_names)).map(lambda n: _ref("bound", n))
    strings = st.sampled_from(list(values)).map(_string)
    lists = st.lists(st.sampled_from(list(values)), min_size=1, max_size=3).map(tuple)
    leaves = [
        st.builds(_call, refs, st.sampled_from(_STR_TESTS), strings),
        st.builds(
            lambda r, v: _call(r, "in", ExprSpec(kind="literal", type="list", value=v)), refs, lists
        ),
        st.builds(
            lambda r, op, v: ExprSpec(kind="compare", op=op, left=r, right=v),
            refs,
            st.sampled_from(["==", "!=", "<", "<=", ">", ">="]),
            strings,
        ),
        st.booleans().map(lambda v: ExprSpec(kind="literal", type="bool", value=v)),
    ]
    if errors:
        leaves.append(refs.map(lambda r: _call(r, "explode")))
    if sugar:
        options = st.lists(strings, min_size=1, max_size=3).map(tuple)
        leaves.append(st.builds(lambda r, o: ExprSpec(kind="in", left=r, options=o), refs, options))
    return st.recursive(st.one_of(leaves), _combine, max_leaves=max_leaves)


def bindings(
    bound_names: Sequence[str] = ("command",), values: Sequence[str] = DEFAULT_VALUES
) -> st.SearchStrategy[dict[str, str]]:
    """A value for each bound name."""
    return st.fixed_dictionaries({n: st.sampled_from(list(values)) for n in bound_names})


_scalars: st.SearchStrategy[Any] = st.one_of(
    st.text(max_size=8),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)


def json_values() -> st.SearchStrategy[Any]:
    """Small JSON values (what example arguments and inputs hold)."""
    return st.recursive(
        _scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)
        ),
        max_leaves=6,
    )


def examples() -> st.SearchStrategy[Example]:
    """Examples with identifier-named arguments and inputs."""
    pairs = st.dictionaries(st.sampled_from(_NAMES), json_values(), max_size=2)
    return st.builds(Example, args=pairs, inputs=pairs)


def _literals() -> st.SearchStrategy[ExprSpec]:
    scalar_lists = st.lists(_scalars, max_size=3).map(tuple)
    return st.one_of(
        st.text(max_size=8).map(_string),
        st.integers(-(2**63), 2**63 - 1).map(
            lambda v: ExprSpec(kind="literal", type="int", value=v)
        ),
        st.floats(allow_nan=False, allow_infinity=False).map(
            lambda v: ExprSpec(kind="literal", type="float", value=v)
        ),
        st.booleans().map(lambda v: ExprSpec(kind="literal", type="bool", value=v)),
        st.just(ExprSpec(kind="literal", type="null")),
        scalar_lists.map(lambda v: ExprSpec(kind="literal", type="list", value=v)),
    )


def _rich_refs(bound_names: Sequence[str]) -> st.SearchStrategy[ExprSpec]:
    keys = st.lists(st.one_of(st.sampled_from(_NAMES), st.text(min_size=1, max_size=4)), max_size=2)
    kinds: list[st.SearchStrategy[ExprSpec]] = [
        st.builds(lambda n, k: _ref("input", n, tuple(k)), st.sampled_from(_NAMES), keys),
        st.builds(lambda n, k: _ref("node", n, tuple(k)), st.sampled_from(_NAMES), keys),
    ]
    if bound_names:
        names = st.sampled_from(list(bound_names))
        kinds.append(st.builds(lambda n, k: _ref("bound", n, tuple(k)), names, keys))
    return st.one_of(kinds)


def _as_condition(expr: ExprSpec) -> ExprSpec:
    """``expr``, or a comparison of it with itself if it is a literal that is not a bool."""
    if expr.kind == "literal" and expr.type != "bool":
        return ExprSpec(kind="compare", op="==", left=expr, right=expr)
    return expr


def _rich_expressions(bound_names: Sequence[str]) -> st.SearchStrategy[ExprSpec]:
    """Conditions using every construct the text form writes (not meant to evaluate)."""

    def extend(kids: st.SearchStrategy[ExprSpec]) -> st.SearchStrategy[ExprSpec]:
        conditions = kids.map(_as_condition)
        many = st.lists(conditions, min_size=2, max_size=3).map(tuple)
        ops = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
        return st.one_of(
            st.builds(_call, kids, st.sampled_from(_METHODS)),
            st.builds(
                lambda r, m, a: _call(r, m, *a),
                kids,
                st.sampled_from(_METHODS),
                st.lists(kids, min_size=1, max_size=2),
            ),
            st.builds(
                lambda o, a, b: ExprSpec(kind="compare", op=o, left=a, right=b), ops, kids, kids
            ),
            conditions.map(lambda e: ExprSpec(kind="not", expr=e)),
            many.map(lambda es: ExprSpec(kind="and", exprs=es)),
            many.map(lambda es: ExprSpec(kind="or", exprs=es)),
        )

    leaves = st.one_of(_literals(), _rich_refs(bound_names))
    return st.recursive(leaves, extend, max_leaves=10).map(_as_condition)


@st.composite
def policies(draw: st.DrawFn, *, kinds: Sequence[str] = ("deny", "before")) -> PolicySpec:
    """Valid policies using every construct the text form can write."""
    locals_ = draw(
        st.lists(st.sampled_from(["command", "path", "p", "x1"]), unique=True, max_size=2)
    )
    bind = {local: draw(st.sampled_from([local, "path", "not"])) for local in locals_}
    trigger = TriggerSpec(capability=draw(st.sampled_from(_CAPABILITIES)), bind=bind)
    kind = draw(st.sampled_from(list(kinds)))
    conditions = _rich_expressions(locals_)
    condition = draw(conditions if kind == "deny" else st.none() | conditions)
    requires: tuple[RequireSpec, ...] = ()
    if kind == "before":
        arg_values = st.one_of(_rich_refs(locals_), _literals())
        args = st.dictionaries(st.sampled_from(_NAMES), arg_values, max_size=2)
        require = st.builds(RequireSpec, capability=st.sampled_from(_CAPABILITIES), args=args)
        requires = tuple(draw(st.lists(require, min_size=1, max_size=2)))
    return PolicySpec(
        id=draw(st.text(min_size=1, max_size=10)),
        kind=kind,  # type: ignore[arg-type]
        trigger=trigger,
        requires=requires,
        condition=condition,
        match=tuple(draw(st.lists(examples(), max_size=2))),
        not_match=tuple(draw(st.lists(examples(), max_size=1))),
        description=draw(st.text(max_size=10)),
    )


@st.composite
def policy_texts(draw: st.DrawFn) -> str:
    """Valid policy text: rendered policies, some unnamed, with comments and blank lines."""
    lines: list[str] = []
    for spec in draw(st.lists(policies(), max_size=3, unique_by=lambda p: p.id)):
        if draw(st.booleans()):
            lines.append(render_policy(spec))
        else:  # unnamed: the parser derives an id
            text = render_policy(attrs.evolve(spec, id="x", description=""))
            lines.append(text.removeprefix("policy x: "))
        lines.extend(draw(st.lists(st.sampled_from(["", "# note", "   # indented"]), max_size=2)))
    return "\n".join(lines) + draw(st.sampled_from(["", "\n", "  # end"]))
