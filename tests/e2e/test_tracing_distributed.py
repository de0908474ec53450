"""A turn is one trace across processes: a gateway and a worker on PostgreSQL, NATS and
Redis export their spans over OTLP/HTTP to a fake collector, which receives one trace
id from both — the gateway's HTTP span, the worker's spans under it across NATS, and
the model call — each process named by its resource."""

import asyncio
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from chatorch import __version__
from tests.e2e.client import read_stream
from tests.e2e.processes import chatorch, fake_openai
from tests.e2e.test_distributed import shared  # noqa: F401 - the deployment fixture
from tests.fixtures.fake_otlp import FakeCollector, ReceivedSpan, collector_thread


async def _ask(gateway: str, other: str) -> tuple[Any, list[Any]]:
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as http:
        chat = (await http.post("/v1/chats", json={})).json()
        body = {"content": "what is 12*7?"}
        accepted = (await http.post(f"/v1/chats/{chat['id']}/messages", json=body)).json()
    return accepted, await read_stream(other, accepted["events_url"])


def _one(collector: FakeCollector, name: str) -> ReceivedSpan:
    named = collector.named(name)
    assert len(named) == 1, [span.name for span in collector.spans]
    return named[0]


class TestOneTraceAcrossProcesses:
    def test_gateway_and_worker_spans_share_the_turns_trace(
        self,
        tmp_path: Path,
        shared: dict[str, str],  # noqa: F811
    ) -> None:
        with ExitStack() as stack:
            collector = stack.enter_context(collector_thread())
            model_url = stack.enter_context(fake_openai())
            traced = {
                **shared,
                "otlp_endpoint": collector.url,
                "llm": "openai:fake",
                "openai_base_url": model_url,
            }
            with ExitStack() as processes:  # stopped (SIGTERM: flushed) before reading
                first = processes.enter_context(chatorch(tmp_path, role="gateway", **traced))
                second = processes.enter_context(chatorch(tmp_path, role="gateway", **traced))
                processes.enter_context(chatorch(tmp_path, role="worker", **traced))
                accepted, events = asyncio.run(_ask(first.url, second.url))
            assert events[-1].event == "done", events[-1]

            post = _one(collector, "POST /v1/chats/{chat_id}/messages")
            work = _one(collector, "work answer")
            for span in (post, work):
                assert span.resource["service.name"] == "chatorch"
                assert span.resource["service.version"] == __version__
            assert post.resource["chatorch.role"] == "gateway"
            assert work.resource["chatorch.role"] == "worker"
            assert work.trace_id == post.trace_id  # one trace, across NATS
            assert work.parent_span_id == post.span_id
            assert work.attributes["chatorch.response_id"] == accepted["response_id"]

            turn = [span for span in collector.spans if span.trace_id == post.trace_id]
            models = [span for span in turn if span.name == "chat fake"]
            assert len(models) == 2  # the calculator call, then the answer
            assert all(span.resource["chatorch.role"] == "worker" for span in models)
            assert all(span.kind == "CLIENT" for span in models)
            assert {m.attributes["gen_ai.provider.name"] for m in models} == {"openai"}
            assert len([span for span in turn if span.name == "execute_tool calculator"]) == 1

            # The stream was served by the other gateway: its span links to the turn.
            (stream,) = [
                span
                for span in collector.named("GET /v1/chats/{chat_id}/events")
                if span.attributes["http.response.status_code"] == 200
            ]
            assert stream.resource["chatorch.role"] == "gateway"
            assert stream.trace_id != post.trace_id  # a request of its own…
            linked = {span_id for trace_id, span_id in stream.links if trace_id == post.trace_id}
            assert linked
            assert linked <= {span.span_id for span in turn}  # …linked to the turn
