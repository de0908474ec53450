"""The message path's two ends: the RequestProcessor that accepts messages, and the
Runner whose pipeline answers them (Think → Act → Respond)."""

from chatorch.container import Container
from chatorch.pipeline.act import ActionEngine
from chatorch.pipeline.answer import AnswerPipeline, Limits
from chatorch.pipeline.outbox import DispatchMarks
from chatorch.pipeline.request import RequestProcessor
from chatorch.pipeline.respond import ResponseEngine
from chatorch.pipeline.runner import Runner
from chatorch.pipeline.think import ThinkEngine
from chatorch.ports.bus import Bus
from chatorch.ports.ratelimit import RateLimiter
from chatorch.ports.store import Store
from chatorch.services.context import ContextManager
from chatorch.services.metrics import MetricsCollector
from chatorch.settings import Settings


def build_processor(
    settings: Settings,
    *,
    store: Store,
    bus: Bus,
    metrics: MetricsCollector,
    limiter: RateLimiter,
    marks: DispatchMarks | None,
) -> RequestProcessor:
    """``marks``: the bus is another server, so a message may be stored but not yet sent."""
    return RequestProcessor(
        store,
        bus,
        metrics,
        max_content_chars=settings.max_content_chars,
        limiter=limiter,
        message_rate=settings.rate_messages,
        mark=None if marks is None else marks.add,
    )


def build_runner(c: Container) -> Runner:
    s = c.settings
    pipeline = AnswerPipeline(
        store=c.store,
        bus=c.bus,
        think=ThinkEngine(c.llm),
        act=ActionEngine(c.tools, c.metrics, timeout=s.tool_timeout),
        respond=ResponseEngine(),
        tools=c.tools,
        context=ContextManager(max_chars=s.context_chars, retriever=c.retriever),
        prompts=c.prompts,
        metrics=c.metrics,
        limits=Limits(
            max_attempts=s.max_attempts,
            max_tool_steps=s.max_tool_steps,
            context_messages=s.context_messages,
            coalesce=s.coalesce_ms / 1000,
            temperature=s.llm_temperature,
            max_tokens=s.llm_max_tokens,
        ),
        channels=c.channels,
        chains=c.chains,
    )
    return Runner(
        bus=c.bus,
        store=c.store,
        pipeline=pipeline,
        artifacts=c.artifacts,
        concurrency=s.worker_concurrency,
        progress_every=s.ack_wait / 3,
    )
