"""One turn is one trace: the gateway's HTTP span, the worker's think / act / respond,
a span per model call (GenAI conventions), per tool call and per retrieval; the stream's
span links to the turn; the turn's log lines carry its trace id.

The spans are caught by the SDK's own ``InMemorySpanExporter``, through the provider a
deployment gets from ``wiring/tracing.py`` (that path, export over OTLP/HTTP, is
``tests/unit/wiring/test_tracing.py`` and ``tests/e2e/test_tracing_distributed.py``).
"""

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import structlog
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from chatorch import logs, tracing
from tests.api.conftest import ask, new_chat, read_events, serve, settings_for
from tests.api.test_files import settled, upload
from tests.fixtures.fake_openai import fake_openai_server


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"chatorch.role": "serve"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.activate(provider)
    try:
        yield exporter
    finally:
        tracing.deactivate()
        provider.shutdown()


async def _finished(exporter: InMemorySpanExporter, name: str, count: int = 1) -> None:
    """Wait for ``count`` spans called ``name``: the worker acks after ``done`` is sent."""
    for _ in range(500):
        if len([s for s in exporter.get_finished_spans() if s.name == name]) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"no finished span {name!r}")


def _one(found: list[ReadableSpan], name: str) -> ReadableSpan:
    named = [span for span in found if span.name == name]
    assert len(named) == 1, [span.name for span in found]
    return named[0]


def _children(found: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    assert parent.context is not None
    return [s for s in found if s.parent is not None and s.parent.span_id == parent.context.span_id]


async def _turn(client: httpx.AsyncClient, question: str) -> tuple[str, dict[str, object]]:
    chat_id = await new_chat(client)
    accepted = await ask(client, chat_id, question)
    events = await read_events(client, accepted["events_url"])
    assert events[-1].event in ("done", "error"), events[-1]
    return chat_id, accepted


class TestOneTurnIsOneTrace:
    async def test_the_http_span_is_the_parent_of_the_worker_model_and_tool_spans(
        self, tmp_path: Path, spans: InMemorySpanExporter
    ) -> None:
        async with fake_openai_server() as fake:
            settings = settings_for(tmp_path, llm="openai:fake", openai_base_url=fake.url)
            async with serve(settings) as client:
                await _turn(client, "What is 12*7?")  # the fake calls the calculator
                await _finished(spans, "work answer")
        found = list(spans.get_finished_spans())
        post = _one(found, "POST /v1/chats/{chat_id}/messages")
        assert post.kind is SpanKind.SERVER
        assert post.attributes is not None
        assert post.attributes["http.response.status_code"] == 202
        assert post.attributes["http.route"] == "/v1/chats/{chat_id}/messages"
        work = _one(found, "work answer")
        assert work.kind is SpanKind.CONSUMER
        assert work.parent is not None
        assert post.context is not None
        assert work.context is not None
        assert work.parent.span_id == post.context.span_id  # across the bus
        assert work.context.trace_id == post.context.trace_id
        stages = [span.name for span in _children(found, work)]
        assert stages.count("think") == 2  # a tool round, then the answer
        assert {"act", "respond"} <= set(stages)

        models = [span for span in found if span.name == "chat fake"]
        assert len(models) == 2
        for model in models:
            assert model.kind is SpanKind.CLIENT
            assert model.parent is not None
            assert _by_id(found, model.parent.span_id).name == "think"
            assert model.attributes is not None
            assert model.attributes["gen_ai.operation.name"] == "chat"
            assert model.attributes["gen_ai.provider.name"] == "openai"
            assert model.attributes["gen_ai.request.model"] == "fake"
            assert int(str(model.attributes["gen_ai.usage.input_tokens"])) > 0
            assert int(str(model.attributes["gen_ai.usage.output_tokens"])) > 0
        reasons = sorted(tuple(m.attributes["gen_ai.response.finish_reasons"]) for m in models)  # type: ignore[index, arg-type]
        assert reasons == [("stop",), ("tool_calls",)]

        tool = _one(found, "execute_tool calculator")
        assert tool.attributes is not None
        assert tool.attributes["gen_ai.operation.name"] == "execute_tool"
        assert tool.attributes["gen_ai.tool.name"] == "calculator"
        assert tool.parent is not None
        assert _by_id(found, tool.parent.span_id).name == "act"
        assert tool.status.status_code is StatusCode.UNSET
        assert {span.context.trace_id for span in found if span.context} >= {post.context.trace_id}

    async def test_the_stream_span_links_to_the_turn_and_has_no_span_per_token(
        self, tmp_path: Path, spans: InMemorySpanExporter
    ) -> None:
        async with serve(settings_for(tmp_path)) as client:  # builtin: many tokens
            assert (await client.get("/healthz")).status_code == 200  # probes: no span
            await _turn(client, "Tell me about yourself, please.")
            await _finished(spans, "GET /v1/chats/{chat_id}/events")
            await _finished(spans, "work answer")
        found = list(spans.get_finished_spans())
        stream = _one(found, "GET /v1/chats/{chat_id}/events")
        work = _one(found, "work answer")
        assert work.context is not None
        assert stream.context is not None
        assert stream.context.trace_id != work.context.trace_id  # a request of its own
        assert [(link.context.trace_id, link.context.span_id) for link in stream.links] == [
            (work.context.trace_id, work.context.span_id)
        ]
        assert len(found) < 20, [span.name for span in found]  # no span per token or event
        assert not [span for span in found if span.name.startswith("GET /healthz")]

    async def test_a_clients_traceparent_makes_the_turn_part_of_its_trace(
        self, tmp_path: Path, spans: InMemorySpanExporter
    ) -> None:
        trace_id, span_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
        async with serve(settings_for(tmp_path)) as client:
            chat_id = await new_chat(client)
            accepted = await ask(client, chat_id, "Hi", traceparent=f"00-{trace_id}-{span_id}-01")
            await read_events(client, accepted["events_url"])
            await _finished(spans, "work answer")
        found = list(spans.get_finished_spans())
        post = _one(found, "POST /v1/chats/{chat_id}/messages")
        work = _one(found, "work answer")
        assert post.parent is not None
        assert format(post.parent.span_id, "016x") == span_id
        assert post.context is not None
        assert work.context is not None
        assert format(post.context.trace_id, "032x") == format(work.context.trace_id, "032x")
        assert format(work.context.trace_id, "032x") == trace_id

    async def test_a_retrieval_span_when_the_question_has_files(
        self, tmp_path: Path, spans: InMemorySpanExporter
    ) -> None:
        async with serve(settings_for(tmp_path)) as client:
            made = await upload(client, b"Error ERR-4471 means the toner is empty.", "m.txt")
            file_id = made.json()["id"]
            assert (await settled(client, file_id))["status"] == "ready"
            chat_id = await new_chat(client)
            body = {"content": "What does ERR-4471 mean?", "file_ids": [file_id]}
            accepted = (await client.post(f"/v1/chats/{chat_id}/messages", json=body)).json()
            await read_events(client, accepted["events_url"])
            await _finished(spans, "work answer")
        found = list(spans.get_finished_spans())
        ingest = _one(found, "work ingest")  # the upload's reading is traced too
        upload_span = _one(found, "POST /v1/files")
        assert ingest.parent is not None
        assert upload_span.context is not None
        assert ingest.parent.span_id == upload_span.context.span_id
        retrieval = _one(found, "retrieval files")
        work = _one(found, "work answer")
        assert retrieval.parent is not None
        assert work.context is not None
        assert retrieval.parent.span_id == work.context.span_id
        assert retrieval.attributes is not None
        assert retrieval.attributes["gen_ai.operation.name"] == "retrieval"
        assert retrieval.attributes["chatorch.retrieval.passages"] >= 1  # type: ignore[operator]
        assert "What does" not in json.dumps(dict(retrieval.attributes))  # no query text

    async def test_a_failing_model_call_marks_its_span_and_the_turn_failed(
        self, tmp_path: Path, spans: InMemorySpanExporter
    ) -> None:
        async with fake_openai_server() as fake:
            llm = "openai:fake-error-401"  # not retryable: one call
            settings = settings_for(tmp_path, llm=llm, openai_base_url=fake.url)
            async with serve(settings) as client:
                await _turn(client, "Hello?")
                await _finished(spans, "work answer")
        found = list(spans.get_finished_spans())
        model = _one(found, "chat fake-error-401")
        assert model.status.status_code is StatusCode.ERROR
        assert [event.name for event in model.events] == ["exception"]
        work = _one(found, "work answer")
        assert work.status.status_code is StatusCode.ERROR
        assert work.status.description is not None
        assert "401" in work.status.description


def _by_id(found: list[ReadableSpan], span_id: int) -> ReadableSpan:
    return next(span for span in found if span.context and span.context.span_id == span_id)


def _json_logs() -> None:
    """chatorch's JSON lines on stderr (``capsys``), loggers not cached: a module's
    logger cached now would write to this test's captured stream ever after."""
    logs.configure(level="info", fmt="json")
    structlog.configure(cache_logger_on_first_use=False)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    import logging

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers, root.level = handlers, level
    structlog.reset_defaults()


@pytest.mark.usefixtures("restore_logging")
class TestLogLinesCarryTheTrace:
    async def test_a_turns_lines_carry_its_trace_and_span_ids(
        self, tmp_path: Path, spans: InMemorySpanExporter, capsys: pytest.CaptureFixture[str]
    ) -> None:
        _json_logs()
        async with serve(settings_for(tmp_path)) as client:
            await _turn(client, "Hello there")
            await _finished(spans, "work answer")
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
        (completed,) = [line for line in lines if line["event"] == "answer.completed"]
        work = _one(list(spans.get_finished_spans()), "work answer")
        assert work.context is not None
        assert completed["trace_id"] == format(work.context.trace_id, "032x")
        assert completed["span_id"] == format(work.context.span_id, "016x")
        started = [line for line in lines if line["event"] == "chatorch.started"]
        assert started
        assert "trace_id" not in started[0]  # outside any span: no ids

    async def test_without_tracing_no_line_carries_a_trace_id(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert not tracing.active()
        _json_logs()
        async with serve(settings_for(tmp_path)) as client:
            await _turn(client, "Hello there")
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
        assert any(line["event"] == "answer.completed" for line in lines)
        assert not any("trace_id" in line for line in lines)
