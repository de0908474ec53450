"""AnswerPipeline: one work item through Think → Act → Respond, stored once.

The job handler's unit of work: it counts the attempt, streams the answer from
memory, and writes the answer in one transaction after its last token — or, when
the model fails or stalls, stores it ``failed`` and ends the stream with ``error``.
"""

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import structlog

from chatorch import tracing
from chatorch.domain.entities import ChatSummary, FileMeta, Message, Role, Status
from chatorch.domain.errors import (
    ChatorchError,
    DuplicateAnswer,
    NotFound,
    ServiceUnavailable,
    Superseded,
)
from chatorch.domain.events import WorkItem
from chatorch.domain.llm import LLMRequest, ToolCall, Turn, Usage
from chatorch.pipeline.act import ActionEngine, describe_result
from chatorch.pipeline.cancel import CANCELLED, AnswerCancelled, Cancellations, Stop, poll
from chatorch.pipeline.emitter import Emitter
from chatorch.pipeline.persist import until_stored
from chatorch.pipeline.respond import ResponseEngine
from chatorch.pipeline.think import ThinkEngine
from chatorch.ports.bus import Bus
from chatorch.ports.store import Store
from chatorch.ports.work import CANCEL_MARK
from chatorch.services.channels import BotChannels
from chatorch.services.context import ContextManager
from chatorch.services.llm import Chains, Generation
from chatorch.services.metrics import MetricsCollector, labelled
from chatorch.services.prompts import Prompt, PromptManager
from chatorch.services.tools import ToolRegistry, ToolResult
from chatorch.services.tools.knowledge import answering

log = structlog.get_logger(__name__)

# Attempt n numbers its events from (n - 1) * 2**20 up, so seq keeps rising across
# attempts even when the event log of a crashed process is gone with it, and a client
# resuming from an old attempt's event id never mistakes new events for ones it has.
ATTEMPT_SEQ_BLOCK = 2**20
TURN_WAIT_LIMIT = 300.0  # s a question waits for an earlier one of its chat to be answered
DELIVERY_GRACE = 120.0  # s a platform may take to show a stored answer before the ack


@dataclass(slots=True)
class _Record:
    """What the answer's metadata says about how it was made."""

    attempt: int
    prompt: str = ""
    provider: str = ""
    model: str = ""
    usage: Usage = field(default_factory=Usage)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    timings_ms: dict[str, float] = field(
        default_factory=lambda: {"think": 0.0, "act": 0.0, "respond": 0.0}
    )
    fallbacks: list[dict[str, Any]] = field(default_factory=list)
    retries: int = 0
    cached: bool = False
    first_chunk_ms: list[float] = field(default_factory=list)  # one per model call
    context: dict[str, Any] = field(default_factory=dict)  # what the prompt held
    citations: list[dict[str, Any]] = field(default_factory=list)  # passages offered

    def note(self, generation: Generation) -> None:
        """Who answered this round, after which retries and fallbacks."""
        self.provider, self.model = generation.provider, generation.model
        self.fallbacks.extend(generation.skipped)
        self.retries += generation.retries
        self.cached = self.cached or generation.cached
        if generation.first_chunk_ms is not None:
            self.first_chunk_ms.append(generation.first_chunk_ms)

    def metadata(self, total_ms: float) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "model": self.model,
            "prompt": self.prompt,
            "usage": self.usage.as_dict(),
            "tool_calls": self.tool_calls,
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()}
            | {"total": round(total_ms, 2)},
            "attempt": self.attempt,
            "fallbacks": self.fallbacks,
            "retries": self.retries,
            "cached": self.cached,
            "first_chunk_ms": self.first_chunk_ms,
            "context": self.context,
            "citations": self.citations,
        }


@dataclass(slots=True, frozen=True)
class _Recalled:
    """What the chat holds for an answer: what a prompt may hold of its earlier turns
    (``complete``: all of them), its files, and its summary when ``complete`` is not."""

    history: Sequence[Turn]
    files: Sequence[FileMeta]
    complete: bool
    summary: ChatSummary | None = None


@dataclass(slots=True, frozen=True)
class Limits:
    max_attempts: int
    max_tool_steps: int
    context_messages: int
    coalesce: float  # s
    temperature: float | None = None
    max_tokens: int | None = None


class AnswerPipeline:
    def __init__(
        self,
        *,
        store: Store,
        bus: Bus,
        think: ThinkEngine,
        act: ActionEngine,
        respond: ResponseEngine,
        tools: ToolRegistry,
        context: ContextManager,
        prompts: PromptManager,
        metrics: MetricsCollector,
        limits: Limits,
        channels: BotChannels | None = None,
        chains: Chains | None = None,
    ) -> None:
        """``channels``: where answers to messages from a platform (a bot) are shown;
        ``chains``: the model chains a bot may name instead of the server's."""
        self._store, self._bus = store, bus
        self._channels, self._chains = channels, chains
        self._think, self._act, self._respond = think, act, respond
        self._tools, self._context, self._prompts = tools, context, prompts
        self._metrics = metrics
        self._limits = limits
        self._cancels = Cancellations(bus)  # the answers made here, to stop on request

    async def handle(self, item: WorkItem) -> None:
        """Answer ``item`` unless it was answered already; never raises for a bad answer."""
        with self._cancels.watching(item.response_id) as stop:
            await self._handle(item, stop)

    async def _handle(self, item: WorkItem, stop: Stop) -> None:
        started = await self._start_in_turn(item)
        if started is None:  # answered by an earlier delivery, or erased since
            await self._show_owed(item)
            return
        question, recalled = started
        delivery = self._deliver(question)
        try:
            await self._attempt(item, question, recalled, stop)
            if delivery is not None:  # the platform shows the final text before the ack
                await asyncio.wait([delivery], timeout=DELIVERY_GRACE)
        except BaseException:
            if delivery is not None:  # the next delivery of the item delivers afresh
                delivery.cancel()
            raise
        if delivery is not None:
            delivery.cancel()  # past the grace: the platform is given up on
            await self._settle(item)

    async def _show_owed(self, item: WorkItem) -> None:
        """Show a stored answer its platform has not shown: the process that stored it
        died first, and this is its question's next delivery (or a restart's)."""
        if self._channels is None:
            return
        async with self._store.transaction() as tx:
            _, turn = await tx.chats.chat_turn(item.chat_id, item.response_id)
            owed = (
                len(turn) == 2
                and "channel" in turn[0].metadata
                and await tx.bots.is_owed(item.response_id)
            )
        if not owed:
            return
        question, answer = turn
        log.info("channel.showing_owed_answer", response_id=str(item.response_id))
        store, bus = self._store, self._bus
        await self._channels.show(bus=bus, store=store, question=question, answer=answer)
        await self._settle(item)

    async def _settle(self, item: WorkItem) -> None:
        async with self._store.transaction(durable=False) as tx:
            await tx.bots.settle(item.response_id)

    def _deliver(self, question: Message) -> "asyncio.Task[None] | None":
        """Show the answer on the platform ``question`` came from, as it is made."""
        if self._channels is None or "channel" not in question.metadata:
            return None
        return asyncio.create_task(
            self._channels.deliver(bus=self._bus, store=self._store, question=question)
        )

    async def _attempt(
        self, item: WorkItem, question: Message, recalled: "_Recalled", stop: Stop
    ) -> None:
        attempt = question.attempts  # counting this one
        emitter = await self._emitter(item, attempt)
        record = _Record(attempt=attempt)
        if attempt > self._limits.max_attempts:
            detail = f"no answer after {self._limits.max_attempts} attempts; giving up"
            await self._store_answer(question, "", record, emitter, failure=("gave_up", detail))
            return
        if attempt > 1:
            await emitter.reset()  # an earlier attempt may have sent partial text
        if question.metadata.get(CANCEL_MARK):  # cancelled before it started
            stop.request()
        await self._answer(question, recalled, record, emitter, stop)

    async def give_up(self, item: WorkItem, *, detail: str) -> None:
        """Store ``item``'s answer as failed, with an ``error`` event: it gets no more tries."""
        async with self._store.transaction() as tx:
            question = await tx.chats.get_message(item.message_id)
        if question is None or question.status is not Status.PENDING:
            return
        emitter = await self._emitter(item, question.attempts + 1)
        record = _Record(attempt=question.attempts)
        await self._store_answer(question, "", record, emitter, failure=("gave_up", detail))

    async def _emitter(self, item: WorkItem, attempt: int) -> Emitter:
        logged = await self._bus.last_seq(item.chat_id, item.response_id)
        return Emitter(
            self._bus,
            chat_id=item.chat_id,
            response_id=item.response_id,
            first_seq=max(logged + 1, (attempt - 1) * ATTEMPT_SEQ_BLOCK),
            coalesce=self._limits.coalesce,
            attempt=attempt,
        )

    async def _start_in_turn(self, item: WorkItem) -> "tuple[Message, _Recalled] | None":
        """Count an attempt once every earlier question of the chat is answered.

        An earlier question may be in the hands of another worker: wait for it, with
        growing pauses, but no longer than ``TURN_WAIT_LIMIT`` — a lost predecessor must
        not hold its chat forever. None when the question needs no answer any more.
        """
        pause, waited = 0.02, 0.0
        while True:
            # Not waiting for the disk: the attempt count guards against questions that
            # crash the process, and those leave the operating system's cache intact.
            # Nor a transaction: the claim is one statement; the reads after it need no
            # snapshot shared with it (an earlier turn changes no more once answered).
            async with self._store.transaction(durable=False, atomic=False) as tx:
                question = await tx.work.claim(item.message_id, in_turn=waited < TURN_WAIT_LIMIT)
                if question is not None:
                    limit = self._limits.context_messages
                    history = await tx.chats.history_before(question, limit=limit)
                    files = await tx.files.chat_files(question.chat_id)
                    if len(history) < limit:
                        return question, _Recalled(history, files, complete=True)
                    summary = await tx.summaries.get_summary(question.chat_id)  # will be asked
                    return question, _Recalled(history, files, complete=False, summary=summary)
                unclaimed = await tx.chats.get_message(item.message_id)  # answered, or waiting?
                if unclaimed is None or unclaimed.status is not Status.PENDING:
                    return None
            if waited == 0.0:
                log.info("answer.waiting_for_turn")
            await asyncio.sleep(pause)
            waited += pause
            pause = min(pause * 2, 1.0)

    async def _answer(
        self,
        question: Message,
        recalled: "_Recalled",
        record: _Record,
        emitter: Emitter,
        stop: Stop,
    ) -> None:
        started, started_at = time.perf_counter(), time.monotonic()
        self._metrics.in_flight.inc()
        text = ""
        failure: tuple[str, str] | None = None
        finish_reason: str | None = None
        polling = asyncio.create_task(poll(self._store, question.id, stop))
        try:
            text = await self._generate(question, recalled, record, emitter, stop)
        except AnswerCancelled:
            text, finish_reason = emitter.text, CANCELLED  # what the client was shown
        except ChatorchError as error:
            failure = (error.code, error.detail)
        except Exception:
            log.exception("answer.crashed")
            failure = ("internal", "the answer failed on an internal error; see the server log")
        finally:
            polling.cancel()
            self._metrics.in_flight.dec()
        total = time.perf_counter() - started
        self._metrics.stage("total", total)
        if emitter.first_token_at is not None:
            self._metrics.first_token_seconds.observe(emitter.first_token_at - started_at)
        if failure is not None:
            text = ""  # a failed answer keeps no half-written text
        await self._store_answer(
            question, text, record, emitter, failure=failure, total=total, finish=finish_reason
        )

    async def _generate(
        self,
        question: Message,
        recalled: "_Recalled",
        record: _Record,
        emitter: Emitter,
        stop: Stop,
    ) -> str:
        origin = question.metadata.get("channel") or {}  # a bot's own chain and tools
        specs = self._tools.specs()
        if (allowed := origin.get("tools")) is not None:
            specs = tuple(spec for spec in specs if spec.name in allowed)
        chain = origin.get("llm")
        llm = None if chain is None or self._chains is None else await self._chains.get(chain)
        template = origin.get("prompt") or "system"  # a bot's own, or the server's
        await self._prompts.refresh(template)  # a store read at most once a second
        instructions = question.metadata.get("instructions", "")  # a client's own system text
        context = await self._context.build(
            lambda summary: _instructed(
                self._prompts.system(
                    tools=[spec.name for spec in specs],
                    name=template,
                    user=origin.get("sender", ""),
                    channel=origin.get("platform", "api"),
                    summary=summary,
                ),
                instructions,
            ),
            recalled.history,
            question,
            files=recalled.files,
            summary=lambda: self._summary(question, recalled),
            complete=recalled.complete,
        )
        record.prompt, record.context = context.prompt.ref, context.makeup()
        record.citations = context.citations()
        turns = context.turns
        parts: list[str] = []
        for step in range(self._limits.max_tool_steps + 1):
            offered = specs if step < self._limits.max_tool_steps else ()
            request = LLMRequest(
                turns=tuple(turns),
                tools=offered,
                temperature=self._limits.temperature,
                max_tokens=self._limits.max_tokens,
                sources=context.sources,
            )
            deciding = self._think.decide(request, emitter, llm=llm, stop=stop)
            decision = await self._timed("think", deciding, record)
            calls, text = decision.tool_calls, ""
            try:
                if decision.answers:
                    with tracing.span("respond"):
                        reply = await self._respond.stream(decision, emitter)
                    self._add_time("respond", reply.duration_ms / 1000, record)
                    record.usage += reply.usage
                    calls, text = reply.tool_calls, reply.text
                    parts.append(text)
                else:
                    record.usage += decision.usage
            finally:
                record.note(decision.generation)
            if not calls or not offered:
                break
            token = answering.set(question.chat_id)  # whose files knowledge_search reads
            try:
                acting = self._act.run(calls, emitter, stop=stop)
                results = await self._timed("act", acting, record)
            finally:
                answering.reset(token)
            record.tool_calls.extend(describe_result(r) for r in results)
            turns.extend(_tool_turns(text, calls, results))
        return "".join(parts)

    async def _summary(self, question: Message, recalled: "_Recalled") -> ChatSummary | None:
        if not recalled.complete:  # read with the history
            return recalled.summary
        async with self._store.transaction(durable=False, atomic=False) as tx:
            return await tx.summaries.get_summary(question.chat_id)

    async def _timed(self, stage: str, work: Any, record: _Record) -> Any:
        started = time.perf_counter()
        try:
            with tracing.span(stage):  # think, act
                return await work
        finally:
            self._add_time(stage, time.perf_counter() - started, record)

    def _add_time(self, stage: str, seconds: float, record: _Record) -> None:
        record.timings_ms[stage] += seconds * 1000
        self._metrics.stage(stage, seconds)

    async def _store_answer(
        self,
        question: Message,
        text: str,
        record: _Record,
        emitter: Emitter,
        *,
        failure: tuple[str, str] | None,
        total: float = 0.0,
        finish: str | None = None,
    ) -> None:
        """``finish``: why a complete answer ended early (``cancelled``)."""
        status = Status.COMPLETE if failure is None else Status.FAILED
        metadata = record.metadata(total * 1000)
        if failure is not None:
            metadata["error"] = {"code": failure[0], "detail": failure[1]}
        if finish is not None:
            metadata["finish_reason"] = finish
        answer = Message(
            chat_id=question.chat_id,
            role=Role.ASSISTANT,
            content=text,
            response_id=question.response_id,
            status=status,
            metadata=metadata,
        )

        origin = question.metadata.get("channel") if self._channels is not None else None

        async def write() -> None:
            # One statement on PostgreSQL unless a bot is owed the answer too.
            async with self._store.transaction(atomic=bool(origin)) as tx:
                await tx.work.settle(question.id, answer, attempt=record.attempt)
                if origin:
                    await tx.bots.owe(UUID(origin["bot_id"]), question)  # shown: settled

        try:
            await until_stored(write)
        except (Superseded, DuplicateAnswer):  # its stream ends with the stored attempt's
            log.warning(
                "answer.superseded", response_id=str(question.response_id), attempt=record.attempt
            )
            return
        except NotFound:  # the chat was erased while its answer was made: nothing to keep
            log.info("answer.chat_erased", response_id=str(question.response_id))
            await self._forget_erased(question.chat_id)
            return
        labelled(self._metrics.responses, status.value).inc()
        provider = record.provider or "none"
        labelled(self._metrics.tokens, provider, "prompt").inc(record.usage.prompt_tokens)
        labelled(self._metrics.tokens, provider, "completion").inc(record.usage.completion_tokens)
        if failure is None:
            await emitter.done(answer.id, record.usage.as_dict(), finish_reason=finish)
            log.info(
                "answer.completed",
                answer_id=str(answer.id),
                ms=metadata["timings_ms"]["total"],
                finish_reason=finish,
            )
        else:
            log.warning("answer.failed", code=failure[0], detail=failure[1])
            tracing.failed(tracing.current(), detail=f"{failure[0]}: {failure[1]}")
            await emitter.error(failure[0], failure[1], message_id=answer.id)

    async def _forget_erased(self, chat_id: UUID) -> None:
        """Drop what the answer logged on the bus after its chat was erased (and forgotten)."""
        try:
            await self._bus.forget([chat_id])
        except ServiceUnavailable as error:  # the log ages out all the same
            log.warning("answer.erased_events_kept", detail=error.detail)


def _tool_turns(text: str, calls: tuple[ToolCall, ...], results: list[ToolResult]) -> list[Turn]:
    """The assistant's request for the calls, then one tool turn per result."""
    return [
        Turn(role="assistant", content=text, tool_calls=calls),
        *(Turn(role="tool", content=r.output, tool_call_id=r.call_id) for r in results),
    ]


def _instructed(prompt: Prompt, instructions: str) -> Prompt:
    """The system prompt with a client's instructions (an OpenAI-style ``system``
    message) after it; its ref still names the template that made the rest."""
    if not instructions:
        return prompt
    return Prompt(prompt.name, prompt.version, f"{prompt.text}\n\n{instructions}")
