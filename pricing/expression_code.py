"""Expressions compiled to Python code: a checked syntax tree written out as one Python
expression over `env` and compiled once, so that an expression costs a few bytecodes
instead of a call per node. Several expressions can be written into one generated
function (the pricing plan does), sharing the calls they have in common."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from datetime import tzinfo
from decimal import Decimal
from typing import Any

from .expression_language import (
    BINOPS,
    CMPOPS,
    Evaluator,
    ExpressionSyntaxError,
    divide,
    functions,
    problem_at,
)


def _comparison(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    # A missing (None) value makes any comparison false, whatever the operator.
    def compare(left: Any, right: Any) -> bool:
        return left is not None and right is not None and op(left, right)

    return compare


_COMPARE = {kind: _comparison(fn) for kind, fn in CMPOPS.items()}
_BINARY_SYMBOLS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*"}
_CMP_SYMBOLS = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
}


class Namespace:
    """What generated code may see: bound constants and functions, and its temporaries.
    Several expressions written into one function share one namespace."""

    def __init__(self) -> None:
        self.bound: dict[str, Any] = {"divide": divide}
        self.count = 0

    def bind(self, value: Any) -> str:
        self.count += 1
        name = f"_k{self.count}"
        self.bound[name] = value
        return name

    def temp(self) -> str:
        self.count += 1
        return f"_t{self.count}"

    def evaluate(self, code: str) -> Any:
        """Run generated code (a lambda or a def's text) with nothing but the bindings."""
        scope: dict[str, Any] = {"__builtins__": {}, **self.bound}
        if code.startswith("def "):
            exec(compile(code, "<plan>", "exec"), scope)
            return scope[code[4 : code.index("(")]]
        return eval(compile(code, "<expression>", "eval"), scope)


class Compiler:
    """Checks a tree against the whitelist and writes it out as one Python expression over
    `env`, compiled once: an expression then costs a few bytecodes, not a call per node.

    Only what the checks let through is written: names as env["name"], literals as bound
    constants, functions as bound implementations; the generated code sees no builtins."""

    def __init__(
        self,
        source: str,
        known: Iterable[str],
        tz: tzinfo,
        namespace: Namespace | None = None,
        shared: dict[str, str] | None = None,
    ) -> None:
        self.source = source
        self.known = set(known)
        self.functions = functions(tz)
        self.names: set[str] = set()
        self.namespace = namespace or Namespace()
        #: calls already computed by earlier code of the same function, by their tree:
        #: a call in a place that is always evaluated keeps its value in a temporary, and
        #: the same call later reads it (None: every call is computed where it stands)
        self.shared = shared
        self.eager = True

    def lazily(self, node: ast.AST) -> str:
        """A part evaluated only sometimes (the right of `and`, a branch of `if`): what
        it computes is not shared."""
        eager, self.eager = self.eager, False
        try:
            return self.compile(node)
        finally:
            self.eager = eager

    def fail(self, node: ast.AST, message: str) -> ExpressionSyntaxError:
        return ExpressionSyntaxError(problem_at(node, self.source, message))

    def bind(self, value: Any) -> str:
        return self.namespace.bind(value)

    def evaluator(self, tree: ast.Expression) -> Evaluator:
        # generated from a checked tree: names, bound constants and functions, operators
        evaluate: Evaluator = self.namespace.evaluate(f"lambda env: {self.compile(tree)}")
        return evaluate

    def literal(self, node: ast.AST) -> Any:
        """A literal's value: a number with a point is the Decimal of its own text."""
        if isinstance(node, ast.Name):
            return node.id == "true"
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            return tuple(self.literal(e) for e in node.elts)
        assert isinstance(node, ast.Constant)
        if isinstance(node.value, float):
            return Decimal(ast.get_source_segment(self.source, node) or repr(node.value))
        return node.value

    def compile(self, node: ast.AST) -> str:
        if isinstance(node, ast.Expression):
            return self.compile(node.body)
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool) or value is None or isinstance(value, int):
                return repr(value)
            if isinstance(value, str):
                return self.bind(value)
            if isinstance(value, float):
                # Take the literal's own text so 0.1 is exactly one tenth.
                return self.bind(self.literal(node))
            raise self.fail(node, f"unsupported literal {value!r}")
        if isinstance(node, ast.Name):
            if node.id in ("true", "false"):
                return repr(node.id == "true")
            if node.id not in self.known:
                raise self.fail(node, f"unknown name {node.id!r}")
            self.names.add(node.id)
            return f"env[{node.id!r}]"
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            if self._constant(node):  # made once
                return self.bind(tuple(self.literal(e) for e in node.elts))
            return "(" + "".join(f"{self.compile(e)}, " for e in node.elts) + ")"
        if isinstance(node, ast.BoolOp):
            # all() / any(): a bool, the operands evaluated left to right until one decides
            joiner = " and " if isinstance(node.op, ast.And) else " or "
            parts = [self.compile(node.values[0]), *(self.lazily(v) for v in node.values[1:])]
            return "(not not (" + joiner.join(f"({part})" for part in parts) + "))"
        if isinstance(node, ast.UnaryOp):
            operand = self.compile(node.operand)
            if isinstance(node.op, ast.Not):
                return f"(not ({operand}))"
            if isinstance(node.op, ast.USub):
                return f"(-({operand}))"
            raise self.fail(node, "unsupported operator")
        if isinstance(node, ast.BinOp):
            if type(node.op) not in BINOPS:
                raise self.fail(node, "unsupported operator (use + - * /)")
            left, right = self.compile(node.left), self.compile(node.right)
            if isinstance(node.op, ast.Div):
                return f"divide({left}, {right})"
            return f"(({left}) {_BINARY_SYMBOLS[type(node.op)]} ({right}))"
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.IfExp):
            test = self.compile(node.test)
            body, orelse = self.lazily(node.body), self.lazily(node.orelse)
            return f"(({body}) if ({test}) else ({orelse}))"
        if isinstance(node, ast.Call):
            return self._call(node)
        raise self.fail(node, f"{type(node).__name__} is not allowed")

    def _constant(self, node: ast.AST) -> bool:
        """A literal (never None), or a list of literals: it cannot fail or change."""
        if isinstance(node, ast.Constant):
            return node.value is not None
        if isinstance(node, ast.Name):
            return node.id in ("true", "false")
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            return all(self._constant(e) for e in node.elts)
        return False

    def _compare(self, node: ast.Compare) -> str:
        if len(node.ops) == 1 and type(node.ops[0]) in _CMP_SYMBOLS:
            # against a literal: the missing-value rule written inline, no call
            symbol = _CMP_SYMBOLS[type(node.ops[0])]
            first, second = node.left, node.comparators[0]
            temp = self.namespace.temp()
            if self._constant(second):
                value = self.compile(first)
                return (
                    f"(({temp} := {value}) is not None and {temp} {symbol} {self.compile(second)})"
                )
            if self._constant(first):
                value = self.compile(second)
                return (
                    f"(({temp} := {value}) is not None and {self.compile(first)} {symbol} {temp})"
                )
        # a < b < c: b is evaluated once and c only if a < b held, as in Python
        left = self.compile(node.left)
        parts = []
        for i, (cmp, comparator) in enumerate(zip(node.ops, node.comparators, strict=True)):
            fn = _COMPARE.get(type(cmp))
            if fn is None:
                raise self.fail(node, "unsupported comparison")
            right = self.compile(comparator) if i == 0 else self.lazily(comparator)
            if i < len(node.ops) - 1:
                temp = self.namespace.temp()
                right = f"({temp} := {right})"
                parts.append(f"{self.bind(fn)}({left}, {right})")
                left = temp
            else:
                parts.append(f"{self.bind(fn)}({left}, {right})")
        return "(" + " and ".join(parts) + ")"

    def _call(self, node: ast.Call) -> str:
        if not isinstance(node.func, ast.Name) or node.keywords:
            raise self.fail(node, "only calls like name(arg, ...) are allowed")
        entry = self.functions.get(node.func.id)
        if entry is None:
            known = ", ".join(sorted(self.functions))
            raise self.fail(node, f"unknown function {node.func.id!r} (known: {known})")
        arity, impl = entry
        if len(node.args) != arity:
            raise self.fail(node, f"{node.func.id}() takes {arity} argument(s)")
        args = [self.compile(a) for a in node.args]
        if all(isinstance(a, ast.Constant) for a in node.args):
            # e.g. hours(24): the same value every time, computed once; an error is
            # left to happen when it is evaluated
            try:
                value = impl(*(self.literal(a) for a in node.args))
            except Exception:
                pass
            else:
                return self.bind(value)
        if self.shared is None:
            return f"{self.bind(impl)}({', '.join(args)})"
        key = ast.dump(node)
        if key in self.shared:
            return self.shared[key]
        code = f"{self.bind(impl)}({', '.join(args)})"
        if not self.eager:
            return code
        temp = self.shared[key] = self.namespace.temp()
        return f"({temp} := {code})"


def expression_code(
    source: str, names: Iterable[str], tz: tzinfo, namespace: Namespace, shared: dict[str, str]
) -> str:
    """An expression (already checked: its source and the names it reads) written as Python code over `env`, its constants bound in `namespace`, to
    inline several expressions one after the other into one generated function. `shared`
    holds the calls computed by the code before it, to be computed once: the caller puts
    the expressions in the order they run, each always run."""
    tree = ast.parse(source, mode="eval")
    return Compiler(source, names, tz, namespace, shared).compile(tree)
