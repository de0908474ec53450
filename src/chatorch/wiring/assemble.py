"""``assemble``: every part a role needs, built in order, closed in reverse on exit."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from chatorch.container import Container, Role, default_pod_id
from chatorch.pipeline.inbox import ChannelInbox
from chatorch.pipeline.outbox import DispatchMarks, OutboxRelay
from chatorch.services.bots import BotManager
from chatorch.services.channels import BotChannels
from chatorch.services.metrics import MetricsCollector
from chatorch.services.prompts import PromptManager
from chatorch.services.retrieval import Retriever
from chatorch.services.summaries import IdleSummaryManager
from chatorch.services.tools.knowledge import KnowledgeSearch
from chatorch.settings import Settings
from chatorch.wiring.artifacts import build_artifacts
from chatorch.wiring.auth import build_authenticator, build_limiter
from chatorch.wiring.bus import announce_process, build_bus, build_cache_and_registry, in_process
from chatorch.wiring.channels import channel_maker
from chatorch.wiring.llm import build_llm
from chatorch.wiring.pipeline import build_processor, build_runner
from chatorch.wiring.startup import StartupError
from chatorch.wiring.store import build_store, local_user, vault_for
from chatorch.wiring.tools import build_tools
from chatorch.wiring.tracing import traced
from chatorch.wiring.vectors import build_retrieval

SHUTDOWN_GRACE = 10.0  # s answers in flight may take to finish on stop


@asynccontextmanager
async def assemble(settings: Settings, *, role: Role = "serve") -> AsyncIterator[Container]:
    """Build and connect everything ``role`` needs; close it all on exit.

    Raises:
        StartupError: a backing service is misconfigured or unreachable (the message
            names the setting).
    """
    if role != "serve" and in_process(settings):
        raise StartupError(
            f"CHATORCH_BUS_URL: a {role} shares work with other processes through NATS; "
            "set CHATORCH_BUS_URL=nats://host:4222, or run everything in one with `chatorch serve`"
        )
    answers = role in ("serve", "worker")
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(traced(settings, role=role))  # closed last: flushed
        store = await build_store(settings, stack, migrated=role == "serve")
        pod_id = settings.pod_id or default_pod_id()
        bus = await build_bus(settings, stack, pod_id=pod_id)
        cache, registry = await build_cache_and_registry(settings, stack)
        vault = vault_for(settings, store)
        metrics = MetricsCollector()
        limiter = build_limiter(settings, stack)
        user = await local_user(store)
        chains = await build_llm(
            settings, stack, store=store, vault=vault, metrics=metrics, cache=cache
        )
        embedder, vectors = await build_retrieval(settings, stack, store=store, vault=vault)
        retriever = Retriever(store, embedder=embedder, vectors=vectors)
        tools = await build_tools(settings, stack, declared=answers)
        tools.register(KnowledgeSearch(store, retriever))
        bots = BotManager(store, vault)
        prompts = PromptManager(store, bus=bus)
        await prompts.load()  # then kept current on the way of each answer
        channels = BotChannels(bots, channel_maker(settings))
        stack.push_async_callback(channels.close)
        marks = None if in_process(settings) else DispatchMarks(store)
        if marks is not None:
            marking = asyncio.create_task(marks.run(), name="chatorch-outbox-marks")
            stack.push_async_callback(marks.flush)  # after the task's end: the last ones
            stack.push_async_callback(_cancel, marking)
        processor = build_processor(
            settings, store=store, bus=bus, metrics=metrics, limiter=limiter, marks=marks
        )
        container = Container(
            settings=settings,
            pod_id=pod_id,
            store=store,
            bus=bus,
            cache=cache,
            registry=registry,
            llm=chains.default,
            chains=chains,
            tools=tools,
            metrics=metrics,
            processor=processor,
            local_user=user,
            auth=build_authenticator(settings, store, local_user=user, limiter=limiter),
            vault=vault,
            bots=bots,
            channels=channels,
            artifacts=build_artifacts(settings, stack, store=store, retriever=retriever),
            retriever=retriever,
            inbox=ChannelInbox(store, processor, bots),
            prompts=prompts,
            embedder=embedder,
            vectors=vectors,
        )
        await announce_process(
            bus, stack, settings=settings, role=role, pod_id=pod_id, metrics=metrics
        )
        if role in ("serve", "gateway") and marks is not None:
            relay = asyncio.create_task(
                OutboxRelay(store, bus, marks).run(), name="chatorch-outbox"
            )
            stack.push_async_callback(_cancel, relay)
        if answers:
            container.runner = runner = build_runner(container)
            if in_process(settings):  # JetStream redelivers; memory forgot on exit
                await runner.recover()
            runner.start()
            stack.push_async_callback(runner.stop, grace=SHUTDOWN_GRACE)
            summaries = IdleSummaryManager(
                store,
                chains.default,
                prompts,
                idle_after=settings.summary_idle_s,
                max_chars=settings.context_chars,
            )
            sweeping = asyncio.create_task(summaries.run(), name="chatorch-summaries")
            stack.push_async_callback(_cancel, sweeping)
        yield container


async def _cancel(task: "asyncio.Task[None]") -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
