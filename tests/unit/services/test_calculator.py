"""The calculator tool: exact answers as text, and every refusal as a ``ToolFailed``."""

import pytest

from chatorch.domain.errors import ToolFailed
from chatorch.services.tools.calculator import Calculator


async def test_tool_call_returns_formatted_text() -> None:
    calculator = Calculator()
    assert calculator.spec.name == "calculator"
    assert calculator.spec.parameters["required"] == ["expression"]
    assert await calculator.call({"expression": "12*7"}) == "84"
    assert await calculator.call({"expression": "1/3"}) == "0.333333333333"


async def test_an_expression_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(ToolFailed, match="needs an 'expression' string"):
        await Calculator().call({"expression": 12})


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("1/0", "division by zero is undefined"),
        ("__import__('os')", "call is not allowed|unknown function"),
        ("9**9**9", "exponents beyond"),
    ],
)
async def test_what_cannot_be_computed_fails_with_the_reason(expression: str, problem: str) -> None:
    with pytest.raises(ToolFailed, match=problem):
        await Calculator().call({"expression": expression})
