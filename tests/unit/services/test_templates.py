"""Templates an operator writes: Jinja2 in a sandbox that keeps Python's internals out of
reach, checked against sample contexts, refused with the error and its line."""

import pytest

from chatorch.services.templates import (
    BUILTIN,
    SAMPLES,
    InvalidTemplate,
    check,
    compile_template,
    render,
)


class TestChecked:
    @pytest.mark.parametrize("name", sorted(BUILTIN))
    def test_the_builtin_templates_pass(self, name: str) -> None:
        check(BUILTIN[name])

    def test_a_good_template_renders_the_documented_variables(self) -> None:
        source = "{{ assistant_name }} {{ today }} {{ date }} {{ user }} {{ channel }} {{ tools }}"
        compiled = check(source)
        assert compiled.uses == {"assistant_name", "today", "date", "user", "channel", "tools"}
        assert render(compiled, SAMPLES[0]) == (
            "chatorch 2026-01-31 2026-01-31 ada telegram ['calculator', 'current_time']"
        )

    @pytest.mark.parametrize(
        ("source", "detail"),
        [
            (
                "Hello\n{% if tools %}\n{{ tools | join(', ') }}",
                "line 3: Unexpected end of template",
            ),
            ("one\ntwo\n{{ 1 + }}", "line 3: unexpected 'end of print statement'"),
            ("x\n{{ tools | shout }}", "line 2: No filter named 'shout'"),
            ("Hi\nthere\n{{ customer }}", "line 3: 'customer' is undefined"),
            ("{% if summary %}\n{{ summary.nope }}{% endif %}", "line 2:"),
            ("{{ 1 / 0 }}", "line 1: ZeroDivisionError: division by zero"),
            ("a\n{% include 'other' %}", "line 2:"),
        ],
    )
    def test_a_broken_template_is_refused_with_its_line(self, source: str, detail: str) -> None:
        with pytest.raises(InvalidTemplate) as refused:
            check(source)
        assert refused.value.detail.startswith(detail)
        assert refused.value.status == 422

    def test_it_must_render_without_tools_and_summary_too(self) -> None:
        with pytest.raises(InvalidTemplate, match="line 1: list object has no element 0"):
            check("{{ tools[0] }}")


class TestSandbox:
    @pytest.mark.parametrize(
        "source",
        [
            "{{ ''.__class__.__mro__ }}",
            "{{ ''.__class__.__mro__[1].__subclasses__() }}",
            "{{ cycler.__init__.__globals__ }}",
            "{{ joiner.__init__.__globals__.os }}",
            "{{ namespace.__init__.__globals__ }}",
            "{{ tools.__class__.__base__ }}",
            "{{ (tools|attr('__class__')) }}",
            "{{ '{0.__class__}'.format(1) }}",
            "{{ tools.append('x') }}{{ tools }}",
            "{{ lipsum() }}",
            "{{ self._TemplateReference__context }}",
        ],
    )
    def test_python_internals_are_out_of_reach(self, source: str) -> None:
        with pytest.raises(InvalidTemplate, match=r"^line 1: "):
            check(source)

    def test_a_refusal_names_the_unsafe_access(self) -> None:
        with pytest.raises(InvalidTemplate) as refused:
            check("Hello\n{{ cycler.__init__.__globals__ }}")
        assert refused.value.detail == (
            "line 2: access to attribute '__init__' of 'type' object is unsafe."
        )

    @pytest.mark.parametrize(
        "source",
        [
            "{{ 'x' * 100000000 }}",
            "{{ [0] * 100000000 }}",
            "{{ 2 ** 100000000 }}",
            "{{ '%0999999999d' % 1 }}",
            "{{ '{:0999999999}'.format(1) }}",
            "{{ 'x'.ljust(999999999) }}",
            "{{ 'x' | center(999999999) }}",
            "{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}",
            "{% for a in range(1000) %}{{ 'y' * 1000 }}{% endfor %}",
        ],
    )
    def test_what_would_grow_huge_is_stopped(self, source: str) -> None:
        with pytest.raises(InvalidTemplate):
            check(source)

    def test_the_context_is_not_changed_by_rendering(self) -> None:
        compiled = compile_template("{% set tools = ['other'] %}{{ tools }}")
        context = {**SAMPLES[0]}
        assert render(compiled, context) == "['other']"
        assert context["tools"] == ["calculator", "current_time"]
