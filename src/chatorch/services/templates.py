"""Prompt templates as text an operator writes: Jinja2 in a sandbox, checked before use.

A template is compiled in an ``ImmutableSandboxedEnvironment``: no attribute that starts
with ``_`` (so no ``__class__``, ``__globals__``, ``__mro__``), no method that changes a
list or dict, no Python builtins beyond Jinja's own. Undefined variables are errors
(``StrictUndefined``), and the expressions that could make a huge string from a short
template (``*``, ``**``, ``%``, ``range``, format widths) are bounded.

``check`` compiles a template and renders it against sample contexts; a template that
fails either way is refused with its error and the line it is on.
"""

import re
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, meta
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from chatorch.domain.errors import InvalidInput

NAME_PATTERN = r"^[a-z0-9_-]{1,64}$"  # a template's name: lowercase, digits, _ and -
MAX_TEMPLATE = 20_000  # characters of a template's source
MAX_RENDERED = 50_000  # characters a template may render to
MAX_RANGE = 1_000  # items of a range() in a template
_MAX_POWER = 64  # the largest exponent of ``**``
_PADDING = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})  # str methods
_WIDE_FORMAT = re.compile(r"[%{][^%{}]*?\d{5,}")  # a width or precision of 10,000 or more

BUILTIN_VERSION = 1  # the version of a built-in template; stored versions start above it

SYSTEM = """\
You are {{ assistant_name }}, a helpful assistant. Answer clearly and concisely.
{% if tools %}You can call these tools when they help: {{ tools | join(", ") }}.
Use the calculator for arithmetic instead of computing in your head.
{% endif %}The current date is {{ today }}.{% if summary %}

Summary of the conversation so far:
{{ summary }}{% endif %}"""

SUMMARY = """\
You are {{ assistant_name }}. Summarise the conversation so far, for yourself to read \
before you answer its next message. Write a few short paragraphs or bullet points.
Keep every name, number, date, decision and open question, and who said what when it \
matters; drop greetings and small talk. Do not add anything that was not said.
{% if summary %}
This summary of its earlier part is to be folded into the new one:
{{ summary }}
{% endif %}
The current date is {{ today }}. Write only the summary."""

BUILTIN: Mapping[str, str] = {"system": SYSTEM, "summary": SUMMARY}

# Every template may use these; a caller that gives no value gets these (``today`` and
# ``date`` are filled in with the day of rendering).
VARIABLES: Mapping[str, Any] = {
    "assistant_name": "chatorch",
    "today": "",
    "date": "",
    "tools": [],
    "summary": "",
    "user": "",
    "channel": "api",
}
# What ``check`` renders a template against: with everything, and with nothing optional.
SAMPLES: tuple[Mapping[str, Any], ...] = (
    {
        **VARIABLES,
        "today": "2026-01-31",
        "date": "2026-01-31",
        "tools": ["calculator", "current_time"],
        "summary": "Ada asked about the Analytical Engine; the price is still open.",
        "user": "ada",
        "channel": "telegram",
    },
    {**VARIABLES, "today": "2026-01-31", "date": "2026-01-31"},
)


# The range() items one rendering may still make; None outside ``render``.
_RANGE_LEFT: ContextVar[list[int] | None] = ContextVar("template_range_left", default=None)


class InvalidTemplate(InvalidInput):
    """A template that does not compile or render; the detail says why and where."""

    code = "invalid_template"
    title = "Invalid template"

    def __init__(self, detail: str, *, line: int | None) -> None:
        super().__init__(detail if line is None else f"line {line}: {detail}")
        self.line = line


@dataclass(slots=True, frozen=True)
class Compiled:
    """A template ready to render, and the context variables it reads."""

    template: Template
    uses: frozenset[str]


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, with the operators that can blow up memory bounded."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            _bounded_repeat(left, right)
            _bounded_repeat(right, left)
        elif operator == "**" and isinstance(right, int | float) and abs(right) > _MAX_POWER:
            raise SecurityError(f"an exponent above {_MAX_POWER} is not allowed")
        elif operator == "%" and isinstance(left, str):
            _bounded_format(left)
        return super().call_binop(context, operator, left, right)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str) and attr in _PADDING:  # "x".ljust(10**9)
            return False
        return super().is_safe_attribute(obj, attr, value)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is not None:
            _bounded_format(value.__self__)  # "{:0999999999}".format(1)
        return wrapped


def _bounded_repeat(sequence: Any, times: Any) -> None:
    sized = isinstance(sequence, str | list | tuple) and isinstance(times, int)
    if sized and len(sequence) * times > MAX_RENDERED:
        raise SecurityError(f"a repetition longer than {MAX_RENDERED} is not allowed")


def _bounded_format(text: str) -> None:
    if _WIDE_FORMAT.search(text):
        raise SecurityError("a format width or precision of 10,000 or more is not allowed")


def _range(*args: int) -> range:
    made = range(*args)
    left = _RANGE_LEFT.get()
    if left is not None:  # loops in loops: the budget is for the whole rendering
        if len(made) > left[0]:
            raise SecurityError(f"ranges of more than {MAX_RANGE} items in all are not allowed")
        left[0] -= len(made)
    return made


def _bounded_sizes(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """A filter whose numeric arguments (a width, a count) are at most MAX_RENDERED."""

    def bounded(*args: Any, **kwargs: Any) -> Any:
        for value in (*args[1:], *kwargs.values()):
            if isinstance(value, int) and value > MAX_RENDERED:
                raise SecurityError(f"{name}: a size above {MAX_RENDERED} is not allowed")
        if name == "format" and args:
            _bounded_format(str(args[0]))
        return fn(*args, **kwargs)

    return bounded


def _environment() -> _Sandbox:
    env = _Sandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
    env.globals["range"] = _range
    del env.globals["lipsum"]  # generated filler text: no use in a prompt, and costly
    for name in ("center", "indent", "format"):
        env.filters[name] = _bounded_sizes(name, env.filters[name])
    return env


_ENV = _environment()


def compile_template(source: str) -> Compiled:
    """Compile ``source`` in the sandbox.

    Raises:
        InvalidTemplate: too long, or not valid Jinja2; the detail gives the line.
    """
    if len(source) > MAX_TEMPLATE:
        raise InvalidTemplate(f"a template is at most {MAX_TEMPLATE} characters", line=None)
    try:
        parsed = _ENV.parse(source)
        template = _ENV.from_string(parsed)
    except TemplateSyntaxError as error:
        raise InvalidTemplate(error.message or str(error), line=error.lineno) from None
    except RecursionError:  # nested deeper than the compiler goes
        raise InvalidTemplate("nested too deeply", line=None) from None
    return Compiled(template, frozenset(meta.find_undeclared_variables(parsed)))


def render(compiled: Compiled, context: Mapping[str, Any]) -> str:
    """Render ``compiled`` with ``context``.

    Raises:
        InvalidTemplate: the template failed (an undefined variable, an unsafe access,
            a bound exceeded, any error of its expressions); the detail gives the line.
    """
    parts: list[str] = []
    size = 0
    budget = _RANGE_LEFT.set([MAX_RANGE])
    try:
        for part in compiled.template.generate(context):  # stops a runaway loop early
            size += len(part)
            if size > MAX_RENDERED:
                raise InvalidTemplate(f"renders to more than {MAX_RENDERED} characters", line=None)
            parts.append(part)
    except InvalidTemplate:
        raise
    except Exception as error:
        raise InvalidTemplate(_message(error), line=_template_line(error)) from None
    finally:
        _RANGE_LEFT.reset(budget)
    return "".join(parts)


def check(source: str) -> Compiled:
    """Compile ``source`` and render it against every sample context.

    Raises:
        InvalidTemplate: it does not compile, or does not render with some sample.
    """
    compiled = compile_template(source)
    for sample in SAMPLES:
        render(compiled, sample)
    return compiled


def _message(error: Exception) -> str:
    if isinstance(error, TemplateError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def _template_line(error: BaseException) -> int | None:
    """The template line ``error`` was raised on: Jinja rewrites the traceback so that
    the template's frames carry its own file name and line numbers."""
    line, frame = None, error.__traceback__
    while frame is not None:
        if frame.tb_frame.f_code.co_filename == "<template>":
            line = frame.tb_lineno
        frame = frame.tb_next
    return line
