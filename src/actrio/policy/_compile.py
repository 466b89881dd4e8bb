"""Compile a policy spec once into closures; evaluate it fast and fail closed.

:func:`compile_policy` walks the spec one time and returns a
:class:`CompiledPolicy` whose condition is a tree of nested closures: a call
only runs them, it never looks at the spec again. The rules (SH-11, SH-13):

- ``and``/``or`` evaluate their operands left to right and stop at the first
  operand that decides (``False`` for ``and``, ``True`` for ``or``). An
  operand that is evaluated and fails makes the whole expression fail with
  :class:`PolicyEvaluationError`; operands after the deciding one are never
  evaluated, so their errors do not count. So ``True or <error>`` is
  ``True`` but ``<error> or True`` is an error, and ``not (a and b)``
  behaves exactly like ``(not a) or (not b)``, errors included. The engine
  denies on an error (fail closed).
- A value used as a condition (the condition itself, the operand of
  ``not``/``and``/``or``) must be a ``bool``: there is no truthiness.
- Method calls: a ``str`` receiver has ``eq``, ``starts_with``,
  ``ends_with``, ``contains`` (substring) and ``in`` (a list of strings),
  each taking one string (``in``: one list of strings). Any other receiver
  offers the names its class lists in a ``POLICY_METHODS`` frozenset, called
  as ``getattr(receiver, name)(*args)``. Anything else (an unknown method, a
  wrong argument count or type, a method that raises) is an error. Method
  names are resolved when compiling where possible (``str`` methods with
  literal arguments get a direct fast path); the receiver's type only when
  evaluating. A call with literal arguments on a bound name first asks a
  value the engine has not parsed yet (:func:`actrio.policy._lazy.deferring`),
  which answers only what the parsed value would.
- ``compare``: both sides must be of one family: strings, numbers (``int``
  and ``float``; ``bool`` is not a number), bools, nulls, lists, or one
  class; ``<``, ``<=``, ``>``, ``>=`` only order strings and numbers.
- A missing bound name, input, node output or key is an error.

Exceptions::

    Exception
     └── PolicyEvaluationError   a condition could not be evaluated (deny on it)
    ValueError
     └── PolicySpecError
          └── PolicyExampleError a match/not_match example failed (SH-12)
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final, Literal, TypeAlias

import attrs

from actrio.policy._lazy import answer_in, bound_name, deferring
from actrio.policy._spec import Example, ExprSpec, PolicySpec, PolicySpecError, RefSpec, TriggerSpec

__all__ = (
    "CompiledPolicy",
    "ExampleCase",
    "PolicyEvaluationError",
    "PolicyExampleError",
    "Requirement",
    "bind_by_name",
    "check_examples",
    "compile_policy",
)

Env: TypeAlias = Mapping[str, Any]
_Fn: TypeAlias = Callable[[Env, Env, Env], Any]
Binder: TypeAlias = Callable[[Example], tuple[Env, Env]]

_EMPTY: Final[Env] = MappingProxyType({})
_STR_METHODS: Final = "contains, ends_with, eq, in, starts_with"


class PolicyEvaluationError(Exception):
    """A condition could not be evaluated; the engine treats it as a deny (SH-13).

    Attributes:
        message: What went wrong.
        policy_id: The policy.
        path: Where in the spec, e.g. ``condition.expr.exprs[1].receiver``.
    """

    def __init__(self, message: str, *, policy_id: str, path: str) -> None:
        self.message = message
        self.policy_id = policy_id
        self.path = path
        super().__init__(f"policy {policy_id!r}: {path}: {message}")


class PolicyExampleError(PolicySpecError):
    """A policy's ``match``/``not_match`` example failed (SH-12).

    Attributes:
        expected: ``"match"`` or ``"not_match"``.
        got: ``"match"``, ``"not_match"`` or ``"error"``.
        example: The example that failed.
    """

    def __init__(
        self,
        message: str,
        *,
        policy_id: str,
        path: str,
        expected: str,
        got: str,
        example: Example,
    ) -> None:
        super().__init__(message, policy_id=policy_id, path=path)
        self.expected = expected
        self.got = got
        self.example = example


def _tname(value: object) -> str:
    return "null" if value is None else type(value).__qualname__


class _ArgError(Exception):
    """A str method got an argument of the wrong type (becomes an evaluation error)."""


def _need_str(name: str, arg: object) -> str:
    if not isinstance(arg, str):
        raise _ArgError(f"str.{name} needs a string argument, got {_tname(arg)}")
    return arg


def _str_in(receiver: str, options: object) -> bool:
    if not isinstance(options, list | tuple):
        raise _ArgError(f"str.in needs a list of strings, got {_tname(options)}")
    for option in options:
        _need_str("in", option)
    return receiver in options


_STR_OPS: Final[dict[str, Callable[[str, str], bool]]] = {
    "eq": str.__eq__,
    "starts_with": str.startswith,
    "ends_with": str.endswith,
    "contains": str.__contains__,
}


def _checked(name: str, op: Callable[[str, str], bool]) -> Callable[[str, object], bool]:
    return lambda receiver, arg: op(receiver, _need_str(name, arg))


_STR_BUILTINS: Final[dict[str, Callable[[str, object], bool]]] = {
    name: _checked(name, op) for name, op in _STR_OPS.items()
} | {"in": _str_in}
_COMPARE: Final[dict[str, Callable[[Any, Any], Any]]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_FAMILY: Final[dict[type, type]] = {int: float, list: tuple}


def _always(bound: Env, inputs: Env, outputs: Env) -> bool:
    return True


class _Compiler:
    """Builds the closures of one policy; every error names the policy and a path."""

    def __init__(self, policy_id: str) -> None:
        self.policy_id = policy_id

    def error(self, path: str, message: str) -> PolicyEvaluationError:
        return PolicyEvaluationError(message, policy_id=self.policy_id, path=path)

    def compile(self, expr: ExprSpec, path: str, want_bool: bool) -> _Fn:
        build: Callable[[ExprSpec, str, bool], _Fn] = getattr(self, f"build_{expr.kind}")
        return build(expr, path, want_bool)

    def build_not(self, expr: ExprSpec, path: str, want_bool: bool) -> _Fn:
        assert expr.expr is not None
        inner = self.compile(expr.expr, f"{path}.expr", True)
        return lambda b, i, o: not inner(b, i, o)

    def build_literal(self, expr: ExprSpec, path: str, want_bool: bool) -> _Fn:
        value = expr.value
        return lambda b, i, o: value

    def build_ref(self, expr: ExprSpec, path: str, want_bool: bool) -> _Fn:
        assert expr.ref is not None
        read = self.ref(expr.ref, path)
        return self.as_bool(read, path) if want_bool else read

    def build_and(self, expr: ExprSpec, path: str, want_bool: bool) -> _Fn:
        return self.chain(expr, path)

    build_or = build_and

    def build_compare(self, expr: ExprSpec, path: str, want_bool: bool) -> _Fn:
        return self.compare(expr, path)

    def build_in(self, expr: ExprSpec, path: str, want_bool: bool) -> _Fn:
        return self.member(expr, path)

    def build_method_call(self, expr: ExprSpec, path: str, want_bool: bool) -> _Fn:
        return self.method(expr, path, want_bool)

    def chain(self, expr: ExprSpec, path: str) -> _Fn:
        fns = [self.compile(sub, f"{path}.exprs[{k}]", True) for k, sub in enumerate(expr.exprs)]
        if len(fns) == 2:
            first, second = fns
            if expr.kind == "or":
                return lambda b, i, o: first(b, i, o) or second(b, i, o)
            return lambda b, i, o: first(b, i, o) and second(b, i, o)
        if expr.kind == "or":
            return lambda b, i, o: any(fn(b, i, o) for fn in fns)
        return lambda b, i, o: all(fn(b, i, o) for fn in fns)

    def as_bool(self, fn: _Fn, path: str) -> _Fn:
        error = self.error

        def check(b: Env, i: Env, o: Env) -> bool:
            value = fn(b, i, o)
            if value is True or value is False:
                return value
            raise error(path, f"a condition must be a bool, got {_tname(value)}")

        return check

    def ref(self, ref: RefSpec, path: str) -> _Fn:
        name, keys, error = ref.name, ref.path, self.error
        what = {"bound": "bound argument", "input": "input", "node": "output of node"}[ref.kind]
        missing = f"{what} {name!r} is missing"
        # One closure per environment, so a call does not choose one at run time.
        if ref.kind == "bound":

            def head(b: Env, i: Env, o: Env) -> Any:
                try:
                    return b[name]
                except KeyError:
                    raise error(path, missing) from None

        elif ref.kind == "input":

            def head(b: Env, i: Env, o: Env) -> Any:
                try:
                    return i[name]
                except KeyError:
                    raise error(path, missing) from None

        else:

            def head(b: Env, i: Env, o: Env) -> Any:
                try:
                    return o[name]
                except KeyError:
                    raise error(path, missing) from None

        if not keys:
            return head

        def walk(b: Env, i: Env, o: Env) -> Any:
            value = head(b, i, o)
            for key in keys:
                if not isinstance(value, Mapping):
                    raise error(path, f"cannot read key {key!r} of {_tname(value)}")
                try:
                    value = value[key]
                except KeyError:
                    raise error(path, f"key {key!r} is missing") from None
            return value

        return walk

    def compare(self, expr: ExprSpec, path: str) -> _Fn:
        assert expr.left is not None
        assert expr.right is not None
        assert expr.op is not None
        left = self.compile(expr.left, f"{path}.left", False)
        right = self.compile(expr.right, f"{path}.right", False)
        op, test, error = expr.op, _COMPARE[expr.op], self.error
        ordered = op not in ("==", "!=")

        def fn(b: Env, i: Env, o: Env) -> bool:
            x, y = left(b, i, o), right(b, i, o)
            family = _FAMILY.get(type(x), type(x))
            if family is not _FAMILY.get(type(y), type(y)):
                raise error(path, f"cannot compare {_tname(x)} {op} {_tname(y)}")
            if ordered and family not in (str, float):
                raise error(path, f"{op} orders strings and numbers, not {_tname(x)}")
            if family is tuple:
                x, y = tuple(x), tuple(y)
            try:
                result = test(x, y)
            except Exception as exc:  # fail closed: any failure is an error (SH-13)
                raise error(path, f"{op} raised {type(exc).__name__}: {exc}") from exc
            if result is True or result is False:
                return result
            raise error(path, f"{op} gave {_tname(result)}, not a bool")

        return fn

    def member(self, expr: ExprSpec, path: str) -> _Fn:
        assert expr.left is not None
        left = self.compile(expr.left, f"{path}.left", False)
        options = [
            self.compile(option, f"{path}.options[{k}]", False)
            for k, option in enumerate(expr.options)
        ]
        eq = self.invoker("eq", 1, path, True)

        def fn(b: Env, i: Env, o: Env) -> bool:
            value = left(b, i, o)
            return any(eq(value, (option(b, i, o),)) for option in options)

        name = bound_name(expr.left)
        if name is None or any(option.kind != "literal" for option in expr.options):
            return fn
        literals = tuple((option.value,) for option in expr.options)
        return deferring(name, lambda p: answer_in(p, literals), fn)

    def invoker(self, name: str, arity: int, path: str, want_bool: bool) -> Callable[..., Any]:
        """``invoke(receiver, args)``: the dispatch of one call site, decided per receiver."""
        builtin, error = _STR_BUILTINS.get(name), self.error
        if builtin is not None and arity != 1:
            builtin = None
            unknown = f"str.{name} takes 1 argument, got {arity}"
        else:
            unknown = f"str has no policy method {name!r} (it has {_STR_METHODS})"

        def invoke(receiver: object, args: tuple[object, ...]) -> Any:
            methods = getattr(type(receiver), "POLICY_METHODS", None)
            if methods is None and isinstance(receiver, str):
                if builtin is None:
                    raise error(path, unknown)
                try:
                    return builtin(receiver, args[0])
                except _ArgError as exc:
                    raise error(path, str(exc)) from None
            if not isinstance(methods, frozenset) or name not in methods:
                raise error(path, f"{_tname(receiver)} has no policy method {name!r}")
            try:
                result = getattr(receiver, name)(*args)
            except Exception as exc:  # fail closed: any failure is an error (SH-13)
                message = f"{_tname(receiver)}.{name} raised {type(exc).__name__}: {exc}"
                raise error(path, message) from exc
            if want_bool and result is not True and result is not False:
                raise error(path, f"{_tname(receiver)}.{name} gave {_tname(result)}, not a bool")
            return result

        return invoke

    def method(self, expr: ExprSpec, path: str, want_bool: bool) -> _Fn:
        assert expr.receiver is not None
        assert expr.method is not None
        receiver = self.compile(expr.receiver, f"{path}.receiver", False)
        invoke = self.invoker(expr.method, len(expr.args), path, want_bool)
        fast = _fast_path(expr)
        general: _Fn
        if fast is not None:
            general = _fast_call(receiver, fast, invoke, (expr.args[0].value,))
        else:
            args = [
                self.compile(arg, f"{path}.args[{k}]", False) for k, arg in enumerate(expr.args)
            ]
            if len(args) == 1:
                (arg,) = args
                general = lambda b, i, o: invoke(receiver(b, i, o), (arg(b, i, o),))  # noqa: E731
            else:
                general = lambda b, i, o: invoke(  # noqa: E731
                    receiver(b, i, o), tuple(a(b, i, o) for a in args)
                )
        name = bound_name(expr.receiver)
        if name is None or any(arg.kind != "literal" for arg in expr.args):
            return general
        method, literals = expr.method, tuple(arg.value for arg in expr.args)
        return deferring(name, lambda p: p.answer(method, literals), general)


def _fast_path(expr: ExprSpec) -> Callable[[str], bool] | None:
    """A direct test for ``str`` receivers, when the method and its literal argument allow one."""
    if len(expr.args) != 1 or expr.args[0].kind != "literal" or expr.method is None:
        return None
    value = expr.args[0].value
    op = _STR_OPS.get(expr.method)
    if op is not None and isinstance(value, str):
        return lambda r: op(r, value)
    if expr.method == "in" and isinstance(value, tuple) and all(isinstance(v, str) for v in value):
        return frozenset(value).__contains__
    return None


def _fast_call(
    receiver: _Fn, test: Callable[[str], bool], invoke: Callable[..., Any], args: tuple[Any, ...]
) -> _Fn:
    def fn(b: Env, i: Env, o: Env) -> Any:
        value = receiver(b, i, o)
        return test(value) if type(value) is str else invoke(value, args)

    return fn


@attrs.frozen
class Requirement:
    """A call a ``before`` policy requires, with its arguments evaluated.

    Attributes:
        capability: The capability to call.
        args: The evaluated arguments.
        by_name: The spec gave no arguments: bind the capability's parameters
            by name from the trigger's bound values (see :class:`RequireSpec`).
    """

    capability: str
    args: Mapping[str, object]
    by_name: bool


@attrs.frozen
class ExampleCase:
    """One example of a policy, and what it expects."""

    which: Literal["match", "not_match"]
    index: int
    example: Example

    @property
    def expected(self) -> bool:
        """Whether the condition must hold for the example."""
        return self.which == "match"


@attrs.frozen(eq=False)
class CompiledPolicy:
    """A policy compiled once; build it with :func:`compile_policy`."""

    spec: PolicySpec
    _holds: _Fn = attrs.field(repr=False)
    _requires: tuple[tuple[str, tuple[tuple[str, _Fn], ...]], ...] = attrs.field(repr=False)

    @property
    def id(self) -> str:
        """The policy's id."""
        return self.spec.id

    @property
    def kind(self) -> Literal["deny", "before"]:
        """``deny`` or ``before``."""
        return self.spec.kind

    def applies(self, capability: str) -> bool:
        """Whether the policy gates calls of ``capability``."""
        return capability == self.spec.trigger.capability

    def condition(self, bound: Env, inputs: Env, outputs: Env = _EMPTY) -> bool:
        """Whether the condition holds (always, for a ``before`` without one).

        For a ``deny`` policy True means deny; for a ``before`` policy it
        means the requirements apply.

        Args:
            bound: The trigger's bound names and their values.
            inputs: The run inputs.
            outputs: Prior nodes' outputs, by node name.

        Raises:
            PolicyEvaluationError: If anything went wrong; deny on it.
        """
        return self._run(self._holds, bound, inputs, outputs, "condition")  # type: ignore[no-any-return]

    def requirements(
        self, bound: Env, inputs: Env, outputs: Env = _EMPTY
    ) -> tuple[Requirement, ...]:
        """The calls to run first, their arguments evaluated.

        Raises:
            PolicyEvaluationError: If an argument could not be evaluated.
        """
        return tuple(
            Requirement(
                capability=capability,
                args={
                    name: self._run(fn, bound, inputs, outputs, f"requires[{k}].args.{name}")
                    for name, fn in args
                },
                by_name=not args,
            )
            for k, (capability, args) in enumerate(self._requires)
        )

    def examples(self) -> tuple[ExampleCase, ...]:
        """The policy's examples: its ``match`` ones, then its ``not_match`` ones."""
        return tuple(
            ExampleCase(which=which, index=k, example=example)
            for which in ("match", "not_match")
            for k, example in enumerate(getattr(self.spec, which))
        )

    def _run(self, fn: _Fn, bound: Env, inputs: Env, outputs: Env, path: str) -> Any:
        try:
            return fn(bound, inputs, outputs)
        except PolicyEvaluationError:
            raise
        except Exception as exc:  # fail closed: any failure is an error (SH-13)
            message = f"{type(exc).__name__}: {exc}"
            raise PolicyEvaluationError(message, policy_id=self.id, path=path) from exc


def compile_policy(spec: PolicySpec) -> CompiledPolicy:
    """Compile ``spec`` once into closures.

    Raises:
        TypeError: If ``spec`` is not a :class:`PolicySpec`.
    """
    if not isinstance(spec, PolicySpec):
        raise TypeError(f"compile_policy() takes a PolicySpec, not {type(spec).__qualname__}")
    compiler = _Compiler(spec.id)
    holds = (
        _always
        if spec.condition is None
        else compiler.compile(spec.condition, "condition", want_bool=True)
    )
    requires = tuple(
        (
            require.capability,
            tuple(
                (name, compiler.compile(arg, f"requires[{k}].args.{name}", False))
                for name, arg in require.args.items()
            ),
        )
        for k, require in enumerate(spec.requires)
    )
    return CompiledPolicy(spec, holds, requires)


def bind_by_name(trigger: TriggerSpec, example: Example) -> tuple[Env, Env]:
    """Bind an example directly: each bound name gets the argument it names.

    The default binder of :func:`check_examples`, for values the condition
    reads as they are (strings); an engine that wraps values (paths, shell
    commands) passes its own.

    Raises:
        LookupError: If the example lacks an argument the trigger binds.
    """
    bound: dict[str, Any] = {}
    for local, arg in trigger.bind.items():
        if arg not in example.args:
            raise LookupError(f"the example has no argument {arg!r}")
        bound[local] = example.args[arg]
    return bound, example.inputs


def check_examples(compiled: CompiledPolicy, bind_example: Binder | None = None) -> None:
    """Run a policy's examples (SH-12): ``match`` must hold, ``not_match`` must not.

    Args:
        compiled: The policy.
        bind_example: Turns an example into ``(bound, inputs)``; defaults to
            :func:`bind_by_name`. Node outputs are empty while checking.

    Raises:
        PolicyExampleError: At the first example that fails (evaluating it
            with an error fails too), naming the policy, the example
            (``match[0]``) and what was expected and got.
    """
    trigger = compiled.spec.trigger
    binder = bind_example or (lambda example: bind_by_name(trigger, example))
    for case in compiled.examples():
        try:
            bound, inputs = binder(case.example)
            holds = compiled.condition(bound, inputs, _EMPTY)
        except PolicyEvaluationError as exc:
            raise _example_error(compiled, case, "error", f"{exc.path}: {exc.message}") from exc
        except (LookupError, TypeError, ValueError) as exc:
            raise _example_error(compiled, case, "error", f"cannot bind: {exc}") from exc
        if holds != case.expected:
            got = "match" if holds else "not_match"
            raise _example_error(compiled, case, got, "")


def _example_error(
    compiled: CompiledPolicy, case: ExampleCase, got: str, detail: str
) -> PolicyExampleError:
    args = dict(case.example.args)
    detail = f" ({detail})" if detail else ""
    return PolicyExampleError(
        f"expected {case.which}, got {got}{detail} for args {args!r}",
        policy_id=compiled.id,
        path=f"{case.which}[{case.index}]",
        expected=case.which,
        got=got,
        example=case.example,
    )
