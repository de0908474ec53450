"""The ``calculator`` tool: exact arithmetic for the model, computed by
``domain.arithmetic`` (parsed with ``ast``, never ``eval``, bounded in size)."""

from typing import Any

from chatorch.domain.arithmetic import InvalidExpression, evaluate, format_number
from chatorch.domain.errors import ToolFailed
from chatorch.domain.llm import ToolSpec


class Calculator:
    """The ``calculator`` tool: lets a model do exact arithmetic instead of guessing."""

    _SPEC = ToolSpec(
        name="calculator",
        description=(
            "Evaluate an arithmetic expression exactly. Supports + - * / // % ** "
            "(or ^), parentheses, sqrt, abs, round, min, max, floor, ceil, log, log10, "
            "exp, sin, cos, tan and the constants pi and e. Example: '(3+4)*2'."
        ),
        parameters={
            "type": "object",
            "properties": {
                "expression": {
                    "type": "string",
                    "description": "The arithmetic expression, e.g. '12*7' or 'sqrt(2)'.",
                }
            },
            "required": ["expression"],
        },
    )

    @property
    def spec(self) -> ToolSpec:
        return self._SPEC

    async def call(self, arguments: dict[str, Any]) -> str:
        expression = arguments.get("expression")
        if not isinstance(expression, str):
            raise ToolFailed("the calculator needs an 'expression' string")
        try:
            return format_number(evaluate(expression))
        except InvalidExpression as exc:
            raise ToolFailed(str(exc)) from None
