"""Memory: how fast files are read, and what retrieval adds to an answer.

``python -m bench --only memory [--quick]`` runs it as a section of the benchmarks. One
``chatorch serve`` (SQLite, the in-process bus, the default offline embedder WordLlama
and Qdrant in local mode, the fake upstream as its model) in a folder of its own:

* **Ingestion.** Generated documents of varied text — PDFs of 20 pages of about 2,000
  characters, Markdown files of 20 sections as long — uploaded one at a time
  (``POST /v1/files``) and polled (``GET /v1/files/{id}``, every 10 ms) until
  ``ready``. Per file: the upload's time, the time from the upload to ``ready``, pages
  (sections) and chunks per second over that time, and the server's CPU. One file of
  each kind goes first, unmeasured: the first reading loads the embedder.
* **Answers with retrieval.** Chats prepared with one answered question each, half with
  a ready PDF attached (``file_ids``), half without; then one more question in each, at
  concurrency 1 and 8, the two kinds in alternating blocks. Time to first token and to
  ``done`` from the message POST, as ``bench/load.py`` times them, and the server's CPU
  per answer; the overhead is the difference of the medians.
* **Retrieval's parts.** Once the server has stopped, the bench opens its database and
  vector index itself and times, one part at a time, what a retrieval does: embed the
  question, the vector query, the full-text query, the fusion, the file names; and the
  whole ``Retriever.retrieve``. Then it adds more files of the same user (not attached)
  to the vector index and times the vector query again: Qdrant's local mode checks the
  filter on every point of the collection in Python, so that query grows with all the
  chunks the index holds, not with the files asked about.
"""

import asyncio
import contextlib
import random
import sqlite3
import statistics
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID

import aiohttp
import httpx

from bench.load import END_MARKERS, TOKEN, Incomplete
from bench.report import percentile
from bench.scenarios import Upstream, chatorch, chatorch_env
from bench.systems import Server, Usage
from tests.fixtures.pdf import pdf

CONCURRENCY = (1, 8)
TOKENS = 50  # the fake upstream's answer
POLL = 0.01  # s between looks at a file being read
READY_TIMEOUT = 120.0  # s for one file to become ready
PAGE_CHARS = 2_000


@dataclass(frozen=True, slots=True)
class MemoryPlan:
    files: int  # measured files of each kind
    pages: int  # pages of a PDF, sections of a Markdown file
    rounds: int  # blocks of answers of each kind, alternating
    block: dict[int, int]  # concurrency → answers of one kind per block
    repeats: int  # calls timed of each part of retrieval
    index_sizes: tuple[int, ...]  # chunks in the vector index the vector query is timed at


FULL = MemoryPlan(
    files=5, pages=20, rounds=4, block={1: 25, 8: 50}, repeats=100, index_sizes=(2_500, 10_000)
)
QUICK = MemoryPlan(
    files=2, pages=20, rounds=2, block={1: 10, 8: 20}, repeats=30, index_sizes=(2_500,)
)


# Documents ------------------------------------------------------------------------------


def _vocabulary(words: str) -> tuple[str, ...]:
    return tuple(words.split())


_WORDS = _vocabulary("""
account adapter address alarm archive audit backup balance battery beacon billing boiler
bracket breaker buffer cabinet cable calendar calibration camera capacity carrier
cartridge catalogue certificate channel charger checksum circuit cluster coil compressor
condenser connector console contract controller coolant counter coupling courier
cylinder dashboard database deadline delivery density deposit desk detector diagnostic
dial diesel display dispatch drawer drive duct elevator encoder engine envelope
exhaust fabric feeder filter firmware flange fleet fuse gasket gateway gauge gearbox
generator glacier harbour harness heater hinge hydraulic index inspection installer
insulation inventory invoice journal junction kernel keypad ladder laser latch ledger
lens lever license lighthouse lubricant manifold margin meter microphone mirror module
monitor motor nozzle office orchard outlet oven packet pallet panel parcel password
pedal pipeline piston plumbing pointer portal pressure printer projector propeller pulley
pump quota radiator railway receipt recorder refinery register relay reservoir resistor
ribbon router satellite scanner schedule sensor server shaft shelter shipment shutter
signal siren socket solenoid spindle spring sprinkler stapler storage subscription
supplier switch tablet tank telescope terminal thermostat ticket timer toner tractor
transformer transmitter tray tunnel turbine valve vault vehicle ventilator voltage
warehouse warranty washer wheel winch window wiring workshop
""")
_QUALITIES = _vocabulary("""
amber automatic backup broken central coastal cold compact damaged dry dusty early
electric empty faulty fragile frozen full heavy hidden humid idle internal late loose
main manual narrow noisy northern old open outdoor primary quiet rapid remote rusty
secondary sealed secure shared slow spare steady sticky temporary thin urgent warm
wireless
""")
_VERBS = _vocabulary("""
adjusts blocks calibrates charges checks cleans closes connects cools drains feeds
fills heats holds inspects locks logs measures monitors moves opens powers protects
pumps records reports resets rotates seals sends stores supplies tests tracks
triggers warns
""")
_LINKS = _vocabulary("after before during unless while because although whenever once until")
QUESTIONS = (
    "What does the manual say about the {a} and the {b}?",
    "How often should the {q} {a} be inspected?",
    "Why would the {a} stop working near the {b}?",
    "Which part protects the {a} when the {b} is {q}?",
    "Where is the {q} {a} kept, and who checks it?",
    "How do I reset the {a} after the {b} fails?",
)


def _sentence(rng: random.Random) -> str:
    """A sentence of a maintenance manual, from a fixed vocabulary: varied, no digits."""
    parts = [
        f"the {rng.choice(_QUALITIES)} {rng.choice(_WORDS)}",
        rng.choice(_VERBS),
        f"the {rng.choice(_WORDS)}",
    ]
    if rng.random() < 0.6:
        parts += [rng.choice(_LINKS), f"the {rng.choice(_WORDS)} {rng.choice(_VERBS)}"]
        parts.append(f"the {rng.choice(_QUALITIES)} {rng.choice(_WORDS)}")
    if rng.random() < 0.3:
        parts.append(f"with the {rng.choice(_WORDS)} {rng.choice(_WORDS)}")
    text = " ".join(parts)
    return text[0].upper() + text[1:] + "."


def _page(rng: random.Random) -> str:
    """About PAGE_CHARS characters in paragraphs of three to six sentences."""
    paragraphs: list[str] = []
    size = 0
    while size < PAGE_CHARS - 150:
        sentences = " ".join(_sentence(rng) for _ in range(rng.randint(3, 6)))
        paragraphs.append(sentences)
        size += len(sentences) + 2
    return "\n\n".join(paragraphs)


def _heading(rng: random.Random) -> str:
    return f"{rng.choice(_QUALITIES).title()} {rng.choice(_WORDS)} and {rng.choice(_WORDS)}"


@dataclass(frozen=True, slots=True)
class Document:
    name: str
    kind: str  # "pdf" or "markdown"
    media_type: str
    data: bytes
    parts: int  # pages or sections
    chars: int  # of text


def document(kind: str, number: int, parts: int) -> Document:
    """Document ``number`` of ``kind``: the same bytes for the same arguments."""
    rng = random.Random(f"{kind}-{number}")
    pages = [_page(rng) for _ in range(parts)]
    chars = sum(map(len, pages))
    if kind == "pdf":
        return Document(f"manual-{number}.pdf", kind, "application/pdf", pdf(*pages), parts, chars)
    sections = [f"## {_heading(rng)}\n\n{page}" for page in pages]
    text = f"# Manual {number}\n\n" + "\n\n".join(sections) + "\n"
    return Document(f"manual-{number}.md", kind, "text/markdown", text.encode(), parts, chars)


def questions(count: int) -> list[str]:
    """``count`` questions in the documents' words (no digits: the fake upstream would
    take arithmetic for a calculator call)."""
    rng = random.Random("questions")
    return [
        rng.choice(QUESTIONS).format(
            a=rng.choice(_WORDS), b=rng.choice(_WORDS), q=rng.choice(_QUALITIES)
        )
        for _ in range(count)
    ]


# Ingestion ------------------------------------------------------------------------------


def ingest(server: Server, client: httpx.Client, doc: Document) -> dict[str, Any]:
    """Upload ``doc``, wait for it to be read; its times and the server's CPU."""
    with Usage([server]) as usage:
        started = time.perf_counter()
        response = client.post("/v1/files", files={"file": (doc.name, doc.data, doc.media_type)})
        uploaded = time.perf_counter()
        if response.status_code != 201:
            raise RuntimeError(f"upload of {doc.name}: HTTP {response.status_code}")
        file = response.json()
        while file["status"] == "processing":
            if time.perf_counter() - started > READY_TIMEOUT:
                break
            time.sleep(POLL)
            file = client.get(f"/v1/files/{file['id']}").json()
        ready = time.perf_counter()
    return {
        "kind": doc.kind,
        "name": doc.name,
        "id": file["id"],
        "status": file["status"],
        "error": file.get("error"),
        "bytes": len(doc.data),
        "parts": doc.parts,
        "chars": doc.chars,
        "upload_ms": 1000 * (uploaded - started),
        "ready_ms": 1000 * (ready - started),
        "cpu_ms": 1000 * usage.used.cpu_seconds,
    }


def chunk_counts(database: Path) -> dict[UUID, int]:
    """Chunks per file, read from the server's SQLite database (read-only)."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT file_id, count(*) FROM file_chunks GROUP BY file_id")
        return {_uuid(file_id): count for file_id, count in rows}


def _uuid(value: object) -> UUID:
    return UUID(bytes=value) if isinstance(value, bytes) else UUID(str(value))


def ingestion_summary(files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per kind: medians over its files (each file's rate over its own time to ready)."""
    summary = []
    for kind in ("pdf", "markdown"):
        ready = [f for f in files if f["kind"] == kind and f["status"] == "ready"]
        if not ready:
            continue
        seconds = [f["ready_ms"] / 1000 for f in ready]
        summary.append(
            {
                "kind": kind,
                "files": len(ready),
                "parts": statistics.median(f["parts"] for f in ready),
                "chunks": statistics.median(f["chunks"] for f in ready),
                "kb": statistics.median(f["bytes"] / 1024 for f in ready),
                "upload_p50_ms": statistics.median(f["upload_ms"] for f in ready),
                "ready_p50_ms": 1000 * statistics.median(seconds),
                "ready_max_ms": 1000 * max(seconds),
                "parts_per_s": _rate(ready, seconds, "parts"),
                "chunks_per_s": _rate(ready, seconds, "chunks"),
                "kchars_per_s": _rate(ready, seconds, "chars") / 1000,
                "cpu_ms_per_part": statistics.median(f["cpu_ms"] / f["parts"] for f in ready),
            }
        )
    return summary


def _rate(files: list[dict[str, Any]], seconds: list[float], key: str) -> float:
    """The median over ``files`` of ``key`` per second to ready."""
    return float(statistics.median(f[key] / s for f, s in zip(files, seconds, strict=True)))


# Answers --------------------------------------------------------------------------------


@dataclass(slots=True)
class Arm:
    """The answers of one kind at one concurrency."""

    retrieval: bool
    ttft: list[float] = field(default_factory=list)
    latency: list[float] = field(default_factory=list)
    errors: int = 0
    first_errors: list[str] = field(default_factory=list)
    cpu_seconds: float = 0.0

    def failed(self, reason: str) -> None:
        self.errors += 1
        if len(self.first_errors) < 5:
            self.first_errors.append(reason)


class Asker:
    """Chats on one server: prepared with a first answer, then asked one more question."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self._session = session
        self._url = url

    async def prepare(self, question: str, file_ids: list[str]) -> str:
        """A new chat whose first question (with ``file_ids``) is answered; its id."""
        async with self._session.post(f"{self._url}/v1/chats", json={}) as response:
            _expect(response, 201)
            chat: str = (await response.json())["id"]
        body: dict[str, Any] = {"content": question}
        if file_ids:
            body["file_ids"] = file_ids
        await self.ask(chat, body)
        return chat

    async def ask(self, chat: str, body: dict[str, Any]) -> tuple[float, float]:
        """Time to the first token and to ``done``, from the message POST."""
        started = time.perf_counter()
        url = f"{self._url}/v1/chats/{chat}/messages"
        async with self._session.post(url, json=body) as response:
            _expect(response, 202)
            accepted = await response.json()
        async with self._session.get(self._url + accepted["events_url"]) as response:
            _expect(response, 200)
            first: float | None = None
            received = bytearray()
            async for chunk in response.content.iter_any():
                if first is None and TOKEN.search(chunk):
                    first = time.perf_counter()
                received += chunk
        ended = time.perf_counter()
        tokens = len(TOKEN.findall(received))
        if first is None or tokens != TOKENS or END_MARKERS["chatorch"] not in received:
            raise Incomplete(f"{tokens} of {TOKENS} tokens: {bytes(received[-200:])!r}")
        return first - started, ended - started

    async def context(self, chat: str) -> dict[str, Any]:
        """The last answer's ``metadata.context`` (what its prompt held)."""
        async with self._session.get(f"{self._url}/v1/chats/{chat}/messages") as response:
            _expect(response, 200)
            messages = await response.json()  # oldest first
        answers = [m for m in messages if m["role"] == "assistant"]
        return dict(answers[-1]["metadata"].get("context", {})) if answers else {}


def _expect(response: aiohttp.ClientResponse, status: int) -> None:
    if response.status != status:
        raise Incomplete(f"HTTP {response.status} from {response.url.path}")


async def _gather(concurrency: int, jobs: Iterable[Callable[[], Awaitable[None]]]) -> None:
    """Run ``jobs`` on ``concurrency`` virtual users, each taking the next when done."""

    queue = iter(jobs)

    async def user() -> None:
        for job in queue:
            await job()

    await asyncio.gather(*(user() for _ in range(concurrency)))


async def _prepare(asker: Asker, question: str, file_ids: list[str], into: list[str]) -> None:
    # A chat that cannot be prepared is left out; answer_path counts it as an error.
    with contextlib.suppress(TimeoutError, Incomplete, aiohttp.ClientError):
        into.append(await asker.prepare(question, file_ids))


async def _ask(asker: Asker, chat: str, question: str, arm: Arm) -> None:
    try:
        ttft, latency = await asker.ask(chat, {"content": question})
    except (TimeoutError, Incomplete, aiohttp.ClientError) as error:
        arm.failed(f"{type(error).__name__}: {error}")
        return
    arm.ttft.append(ttft)
    arm.latency.append(latency)


async def answer_path(
    server: Server, url: str, file_id: str, plan: MemoryPlan
) -> list[dict[str, Any]]:
    """Each concurrency: prepared chats with and without the file, asked in blocks."""
    asked = questions(48)
    runs: list[dict[str, Any]] = []
    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=2 * max(CONCURRENCY))
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        asker = Asker(session, url)
        for concurrency in CONCURRENCY:
            size = plan.block[concurrency]
            chats: dict[bool, list[str]] = {True: [], False: []}
            await _gather(
                max(CONCURRENCY),
                (
                    partial(_prepare, asker, asked[n % len(asked)], files, chats[bool(files)])
                    for n in range(plan.rounds * size)
                    for files in ([file_id], [])
                ),
            )
            arms = {kind: Arm(kind) for kind in (True, False)}
            for kind, arm in arms.items():
                for _ in range(plan.rounds * size - len(chats[kind])):
                    arm.failed("a chat could not be prepared")
            for round_ in range(plan.rounds):
                for retrieval in (True, False) if round_ % 2 == 0 else (False, True):
                    arm = arms[retrieval]
                    start = round_ * size
                    block = chats[retrieval][start : start + size]
                    with Usage([server]) as usage:
                        await _gather(
                            concurrency,
                            (
                                partial(_ask, asker, chat, asked[(start + i + 7) % len(asked)], arm)
                                for i, chat in enumerate(block)
                            ),
                        )
                    arm.cpu_seconds += usage.used.cpu_seconds
            for retrieval, arm in arms.items():
                held = await asker.context(chats[retrieval][0]) if chats[retrieval] else {}
                runs.append(_arm_figures(concurrency, arm, held.get("passages")))
    return runs


def _arm_figures(concurrency: int, arm: Arm, passages: int | None) -> dict[str, Any]:
    ttft, latency = [v * 1000 for v in arm.ttft], [v * 1000 for v in arm.latency]
    return {
        "concurrency": concurrency,
        "retrieval": arm.retrieval,
        "answers": len(latency),
        "errors": arm.errors,
        "first_errors": arm.first_errors,
        "passages": passages,
        "ttft_p50_ms": percentile(ttft, 50),
        "ttft_p99_ms": percentile(ttft, 99),
        "latency_p50_ms": percentile(latency, 50),
        "latency_p99_ms": percentile(latency, 99),
        "cpu_ms_per_answer": 1000 * arm.cpu_seconds / max(len(latency), 1),
    }


def overhead(answers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per concurrency: retrieval's figures minus (and over) the plain answers'."""
    rows = []
    for concurrency in CONCURRENCY:
        arms = {a["retrieval"]: a for a in answers if a["concurrency"] == concurrency}
        if len(arms) < 2:
            continue
        on, off = arms[True], arms[False]
        rows.append(
            {
                "concurrency": concurrency,
                "ttft_p50_ms": on["ttft_p50_ms"] - off["ttft_p50_ms"],
                "ttft_ratio": on["ttft_p50_ms"] / off["ttft_p50_ms"],
                "latency_p50_ms": on["latency_p50_ms"] - off["latency_p50_ms"],
                "cpu_ms_per_answer": on["cpu_ms_per_answer"] - off["cpu_ms_per_answer"],
            }
        )
    return rows


# Retrieval's parts ----------------------------------------------------------------------


async def retrieval_parts(
    folder: Path, file_id: str, plan: MemoryPlan, *, indexed: int
) -> dict[str, Any]:
    """Median ms of each part of one retrieval, on the stopped server's data (``indexed``
    chunks in its vector index); then the vector query's at each of ``index_sizes``."""
    from chatorch.domain.entities import FileChunk
    from chatorch.domain.fusion import reciprocal_rank_fusion
    from chatorch.ports.vectors import IndexedChunk
    from chatorch.services.retrieval import BREADTH, Retriever
    from chatorch.settings import Settings
    from chatorch.wiring.store import build_store
    from chatorch.wiring.vectors import build_retrieval

    settings = Settings(
        database_url=_database_url(folder), blob_url=_blob_url(folder), _env_file=None
    )
    asked = questions(48)
    files = [UUID(file_id)]
    async with contextlib.AsyncExitStack() as stack:
        store = await build_store(settings, stack, migrated=False)
        embedder, vectors = await build_retrieval(settings, stack, store=store, vault=None)
        if embedder is None or vectors is None:
            raise RuntimeError("the server's settings give no vector index")
        async with store.transaction(durable=False) as tx:
            file = await tx.files.get_file(files[0])
        if file is None:
            raise RuntimeError(f"file {file_id} is not in the database")
        owner = file.owner_id
        retriever = Retriever(store, embedder=embedder, vectors=vectors)

        async def embed(q: str) -> Any:
            return (await embedder.embed([q]))[0]

        async def nearest(q: str) -> Any:
            return await vectors.query(vector, owner_id=owner, file_ids=files, limit=BREADTH)

        async def full_text(q: str) -> Any:
            async with store.transaction(durable=False) as tx:
                return await tx.search.passages(owner, q, file_ids=files, limit=BREADTH)

        async def fusion(q: str) -> Any:
            return reciprocal_rank_fusion([dense_keys, lexical_keys], limit=4)

        async def names(q: str) -> Any:
            async with store.transaction(durable=False) as tx:
                return await tx.files.get_file(files[0])

        async def whole(q: str) -> Any:
            return await retriever.retrieve(owner, q, file_ids=files)

        vector = await embed(asked[0])
        dense_keys = [(h.chunk.file_id, h.chunk.number) for h in await nearest(asked[0])]
        lexical_keys = [(c.file_id, c.number) for c in await full_text(asked[0])]
        parts = {
            "embed the question": embed,
            "vector query": nearest,
            "full-text query": full_text,
            "fusion": fusion,
            "file names": names,
            "whole retrieval": whole,
        }
        timed = {name: await _median_ms(part, asked, plan.repeats) for name, part in parts.items()}
        by_size = [{"chunks": indexed, "vector_query_ms": timed["vector query"]}]
        rng = random.Random("vectors")
        filler = [[rng.gauss(0, 1) for _ in range(embedder.dimension)] for _ in range(64)]
        text = _page(rng)[:1_000]
        for size in plan.index_sizes:
            others = [  # more files of the same user, 50 chunks each, not attached
                IndexedChunk(
                    owner,
                    FileChunk(UUID(int=(1 << 64) + n // 50), n % 50, text),
                    filler[n % len(filler)],
                )
                for n in range(indexed, size)
            ]
            if others:
                await vectors.upsert(others)
                indexed = size
            ms = await _median_ms(nearest, asked, max(plan.repeats // 4, 20))
            by_size.append({"chunks": size, "vector_query_ms": ms})
    return {"parts_ms": timed, "vector_query_by_index_size": by_size}


async def _median_ms(
    part: Callable[[str], Awaitable[Any]], asked: list[str], repeats: int
) -> float:
    """Median ms of ``part`` over ``repeats`` questions, after five unmeasured."""
    for q in asked[:5]:
        await part(q)
    times = []
    for n in range(repeats):
        started = time.perf_counter()
        await part(asked[n % len(asked)])
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def _database_url(folder: Path) -> str:
    return f"sqlite+aiosqlite:///{folder}/memory.db"


def _blob_url(folder: Path) -> str:
    return f"file:{folder}/files"


# The section ----------------------------------------------------------------------------


def measure_memory(
    plan: MemoryPlan, upstream: Upstream, workdir: Path, say: Callable[[str], None]
) -> dict[str, Any]:
    """Ingestion, answers with and without retrieval, and retrieval's parts."""
    folder = workdir / "memory"
    folder.mkdir(exist_ok=True)
    env = chatorch_env(upstream, database_url=_database_url(folder), blob_url=_blob_url(folder))
    with chatorch("serve", workdir, env) as (server, url):
        with httpx.Client(base_url=url, timeout=60) as client:
            say("memory: ingestion (one file of each kind to warm up)")
            for kind in ("pdf", "markdown"):
                ingest(server, client, document(kind, 0, plan.pages))
            files = []
            for number in range(1, plan.files + 1):
                for kind in ("pdf", "markdown"):
                    say(f"memory: {kind} {number} of {plan.files}")
                    files.append(ingest(server, client, document(kind, number, plan.pages)))
        counts = chunk_counts(folder / "memory.db")
        for file in files:
            file["chunks"] = counts.get(UUID(file["id"]), 0)
        attached = next(
            (f["id"] for f in files if f["kind"] == "pdf" and f["status"] == "ready"), None
        )
        if attached is None:
            raise RuntimeError(f"no PDF became ready: {files}")
        say(f"memory: answers with and without retrieval, concurrency {CONCURRENCY}")
        import uvloop

        answers = uvloop.run(answer_path(server, url, attached, plan))
        server.check_alive()
    say("memory: retrieval's parts, on the stopped server's data")
    parts = asyncio.run(retrieval_parts(folder, attached, plan, indexed=sum(counts.values())))
    errors = sum(f["status"] != "ready" for f in files) + sum(a["errors"] for a in answers)
    return {
        "files": files,
        "ingestion": ingestion_summary(files),
        "answers": answers,
        "overhead": overhead(answers),
        "retrieval_parts_ms": parts["parts_ms"],
        "vector_query_by_index_size": parts["vector_query_by_index_size"],
        "errors": errors,
    }


# Tables ---------------------------------------------------------------------------------


def _table(headings: list[str], rows: list[list[str]]) -> str:
    table = [headings, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(headings))]
    lines = [
        " | ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in table
    ]
    lines.insert(1, "-|-".join("-" * w for w in widths))
    return "\n".join(lines)


def tables(result: dict[str, Any]) -> str:
    """The section's three tables: ingestion, answers, retrieval's parts."""
    ingestion = _table(
        [
            "kind",
            "files",
            "pages",
            "chunks",
            "KB",
            "upload ms",
            "ready p50 ms",
            "ready max ms",
            "pages/s",
            "chunks/s",
            "K chars/s",
            "CPU ms/page",
        ],
        [
            [
                row["kind"],
                str(row["files"]),
                f"{row['parts']:g}",
                f"{row['chunks']:g}",
                f"{row['kb']:.0f}",
                f"{row['upload_p50_ms']:.1f}",
                f"{row['ready_p50_ms']:.0f}",
                f"{row['ready_max_ms']:.0f}",
                f"{row['parts_per_s']:.1f}",
                f"{row['chunks_per_s']:.1f}",
                f"{row['kchars_per_s']:.1f}",
                f"{row['cpu_ms_per_part']:.1f}",
            ]
            for row in result["ingestion"]
        ],
    )
    answers = _table(
        [
            "retrieval",
            "c",
            "answers",
            "passages",
            "TTFT p50 ms",
            "TTFT p99 ms",
            "latency p50 ms",
            "latency p99 ms",
            "errors",
            "CPU ms/answer",
        ],
        [
            [
                "on" if run["retrieval"] else "off",
                str(run["concurrency"]),
                str(run["answers"]),
                "" if run["passages"] is None else str(run["passages"]),
                f"{run['ttft_p50_ms']:.1f}",
                f"{run['ttft_p99_ms']:.1f}",
                f"{run['latency_p50_ms']:.1f}",
                f"{run['latency_p99_ms']:.1f}",
                str(run["errors"]),
                f"{run['cpu_ms_per_answer']:.2f}",
            ]
            for run in result["answers"]
        ],
    )
    added = _table(
        ["c", "TTFT p50 +ms", "TTFT p50 ratio", "latency p50 +ms", "CPU +ms/answer"],
        [
            [
                str(row["concurrency"]),
                f"{row['ttft_p50_ms']:+.1f}",
                f"{row['ttft_ratio']:.2f}×",
                f"{row['latency_p50_ms']:+.1f}",
                f"{row['cpu_ms_per_answer']:+.2f}",
            ]
            for row in result["overhead"]
        ],
    )
    parts = _table(
        ["part of one retrieval", "median ms"],
        [[name, f"{ms:.3f}"] for name, ms in result["retrieval_parts_ms"].items()],
    )
    sizes = _table(
        ["chunks in the vector index", "vector query ms"],
        [
            [f"{row['chunks']:,}", f"{row['vector_query_ms']:.2f}"]
            for row in result["vector_query_by_index_size"]
        ],
    )
    return "\n".join(
        [
            "Ingestion, one file at a time (pages: of a PDF, sections of a Markdown file;"
            " medians over the files):",
            ingestion,
            "\nAnswers with a ready PDF attached (retrieval on) and without:",
            answers,
            "\nWhat retrieval adds (on − off):",
            added,
            "\nRetrieval's parts, timed one at a time in the bench's process:",
            parts,
            "\nThe vector query (local mode) as more of the user's files are indexed:",
            sizes,
        ]
    )
