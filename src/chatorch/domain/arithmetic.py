"""Arithmetic as people type it: found in a sentence, then computed safely.

Pure Python, no I/O. The ``calculator`` tool (``services/tools/calculator.py``) computes
with it; the offline builtin provider (``adapters/llm/builtin.py``) and the fake model
servers use :func:`extract_expression` to see that a question asks for a calculation.

Never ``eval``: the model (and through it, the user) chooses the expression, so only
numbers, arithmetic operators and a few math functions are understood, and sizes are
bounded so that ``9**9**9`` or a 10 MB expression cannot stall a worker.
"""

import ast
import math
import operator
import re
from collections.abc import Callable
from typing import Any


class InvalidExpression(Exception):
    """Not bounded arithmetic, or not computable; the message says which, in plain words."""


Number = int | float

MAX_EXPRESSION_CHARS = 500
MAX_DEPTH = 300  # a 500-character sum like 1+1+…+1 nests ~250 deep
MAX_EXPONENT = 10_000
MAX_INT_BITS = 10_000  # ~3000 digits: still printable, still fast

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}


def _round(x: Number, digits: Number = 0) -> Number:
    if not isinstance(digits, int) or abs(digits) > 100:
        raise InvalidExpression("round() takes a whole number of digits between -100 and 100")
    return round(x) if digits == 0 else round(x, digits)


def _min(*args: Number) -> Number:
    return min(args)


def _max(*args: Number) -> Number:
    return max(args)


# name → (function, fewest arguments, most arguments)
_FUNCTIONS: dict[str, tuple[Callable[..., Number], int, int]] = {
    "sqrt": (math.sqrt, 1, 1),
    "abs": (abs, 1, 1),
    "round": (_round, 1, 2),
    "min": (_min, 1, 50),
    "max": (_max, 1, 50),
    "floor": (math.floor, 1, 1),
    "ceil": (math.ceil, 1, 1),
    "log": (math.log, 1, 2),
    "log10": (math.log10, 1, 1),
    "exp": (math.exp, 1, 1),
    "sin": (math.sin, 1, 1),
    "cos": (math.cos, 1, 1),
    "tan": (math.tan, 1, 1),
}
_CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}

_NUM = r"\d+(?:\.\d+)?"
_OPERAND_PREFIX = rf"(?:(?:[-+(]|(?:{'|'.join(_FUNCTIONS)})\s*\()\s*)*"
_OPERATOR = r"(?:\*\*|//|[-+*/%^×÷xX])"
_EXPRESSION_RE = re.compile(
    rf"{_OPERAND_PREFIX}{_NUM}\s*\)*(?:\s*{_OPERATOR}\s*{_OPERAND_PREFIX}{_NUM}\s*\)*)+"
)
_TIMES_RE = re.compile(r"(?<=[\d.)])\s*[xX×]\s*(?=[\d.(])")


def normalize(expression: str) -> str:
    """Turn human spellings (``12 x 7``, ``×``, ``÷``, ``^``, ``−``) into Python syntax."""
    text = _TIMES_RE.sub("*", expression.strip().rstrip("=?").strip())
    return text.replace("×", "*").replace("÷", "/").replace("−", "-").replace("^", "**")


def extract_expression(text: str) -> str | None:
    """Find the arithmetic in a sentence ("what is 12*7?" → "12*7"), if there is any.

    Only runs with at least one operator between two numbers count, so plain numbers
    such as "room 101" are not mistaken for a calculation.
    """
    match = _EXPRESSION_RE.search(text)
    if match is None:
        return None
    found = match.group(0).strip()
    while found.count(")") > found.count("(") and found.endswith(")"):
        found = found[:-1].rstrip()
    return found


def evaluate(expression: str) -> Number:
    """Compute ``expression`` safely.

    Raises:
        InvalidExpression: the expression is not plain arithmetic, is too big, or cannot be
            computed (e.g. division by zero); the message says which, in plain words.
    """
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise InvalidExpression(f"the expression is longer than {MAX_EXPRESSION_CHARS} characters")
    text = normalize(expression)
    if not text:
        raise InvalidExpression("the expression is empty")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise InvalidExpression(f"{expression!r} is not an arithmetic expression") from None
    try:
        value = _Evaluator().visit(tree.body, 0)
    except ZeroDivisionError:
        raise InvalidExpression("division by zero is undefined") from None
    except OverflowError:
        raise InvalidExpression("the result is too large to compute") from None
    except RecursionError:
        raise InvalidExpression("the expression is nested too deeply") from None
    except (ValueError, TypeError) as exc:
        raise InvalidExpression(f"cannot compute {expression!r}: {exc}") from None
    return _checked(value)


def format_number(value: Number) -> str:
    """Print a result the way a person writes it: ``84``, ``5``, ``0.5``, ``0.333333333333``."""
    if isinstance(value, int):
        return str(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.12g}"


def _checked(value: object) -> Number:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidExpression("the expression does not produce a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidExpression("the result is too large to compute")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise InvalidExpression("the result is too large to compute")
    return value


class _Evaluator:
    """Walks the whitelisted node types; anything else is refused by name."""

    def visit(self, node: ast.expr, depth: int) -> Number:
        if depth > MAX_DEPTH:
            raise InvalidExpression("the expression is nested too deeply")
        if isinstance(node, ast.Constant):
            return _checked(node.value)
        if isinstance(node, ast.Name):
            return self._constant(node.id)
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _checked(_UNARY[type(node.op)](self.visit(node.operand, depth + 1)))
        if isinstance(node, ast.BinOp):
            return self._binary(node, depth)
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        raise InvalidExpression(f"{type(node).__name__.lower()} is not allowed in a calculation")

    def _constant(self, name: str) -> Number:
        if name not in _CONSTANTS:
            raise InvalidExpression(f"unknown name {name!r}; only pi and e are known")
        return _CONSTANTS[name]

    def _binary(self, node: ast.BinOp, depth: int) -> Number:
        left = self.visit(node.left, depth + 1)
        right = self.visit(node.right, depth + 1)
        if isinstance(node.op, ast.Pow):
            return _checked(_power(left, right))
        operation = _BINARY.get(type(node.op))
        if operation is None:
            raise InvalidExpression(f"operator {type(node.op).__name__} is not allowed")
        return _checked(operation(left, right))

    def _call(self, node: ast.Call, depth: int) -> Number:
        name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
        if name not in _FUNCTIONS:
            raise InvalidExpression(f"unknown function {name!r}; known: {', '.join(_FUNCTIONS)}")
        if node.keywords:
            raise InvalidExpression("functions take plain arguments, not name=value")
        function, fewest, most = _FUNCTIONS[name]
        if not fewest <= len(node.args) <= most:
            raise InvalidExpression(f"{name}() got {len(node.args)} arguments")
        args = [self.visit(arg, depth + 1) for arg in node.args]
        return _checked(function(*args))


def _power(base: Number, exponent: Number) -> Number:
    """``base ** exponent``, refused before computing when the result would be huge."""
    if abs(exponent) > MAX_EXPONENT:
        raise InvalidExpression(f"exponents beyond ±{MAX_EXPONENT} are not supported")
    if _too_many_bits(base, exponent):
        raise InvalidExpression("the result is too large to compute")
    result = base**exponent
    if isinstance(result, complex):
        raise InvalidExpression("the result is not a real number")
    return result


def _too_many_bits(base: Number, exponent: Number) -> bool:
    """Whether an exact integer power would exceed ``MAX_INT_BITS`` (known up front)."""
    if not (isinstance(base, int) and isinstance(exponent, int)) or exponent <= 0:
        return False
    return abs(base) > 1 and (abs(base).bit_length() - 1) * exponent > MAX_INT_BITS
