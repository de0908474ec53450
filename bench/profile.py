"""Where a server's CPU goes under load: py-spy samples, summed by part of the system.

``python -m bench --only embedded --profile`` samples the first process of each system
(the chatorch process) while its concurrency-64 window runs, with py-spy's ``--gil``
(only the thread holding the GIL, so only CPU work), and prints each part's share and
the busiest functions. py-spy needs to be allowed to trace the process (root, or
``kernel.yama.ptrace_scope=0``).
"""

import subprocess
from collections import Counter
from pathlib import Path

from bench.systems import BIN

# First match wins, so a database call made by an HTTP handler counts as database.
PARTS = (
    ("database (SQLAlchemy, drivers, store)", ("sqlalchemy", "aiosqlite", "asyncpg", "sql/")),
    ("LLM client (provider, aiohttp)", ("llm/", "aiohttp/", "openai", "anthropic")),
    ("NATS and Redis clients, bus", ("nats/", "redis/", "bus.py", "fanout.py")),
    ("pipeline and services", ("chatorch/pipeline", "chatorch/services")),
    ("event streams (SSE)", ("_sse (", "_pump (", "_next_ready (", "_until_disconnect (")),
    ("HTTP (uvicorn, Starlette, FastAPI, pydantic)", ("uvicorn", "starlette", "fastapi", "api/")),
    ("logging and metrics", ("structlog", "prometheus_client", "logs.py")),
)


class Recording:
    """py-spy recording one process for a while, into ``path`` (collapsed stacks)."""

    def __init__(self, pid: int, seconds: float, path: Path) -> None:
        self.path = path
        argv = [str(BIN / "py-spy"), "record", "--pid", str(pid), "--gil", "--rate", "250"]
        argv += ["--duration", str(max(1, round(seconds))), "--format", "raw"]
        self._process = subprocess.Popen(
            [*argv, "--output", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def wait(self) -> str | None:
        """The summary, or why there is none."""
        _, errors = self._process.communicate(timeout=120)
        if self._process.returncode != 0 or not self.path.exists():
            return f"py-spy failed: {errors.decode(errors='replace').strip()[-300:]}"
        return summarize(self.path)


def summarize(path: Path, *, top: int = 15) -> str:
    parts: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        samples = int(count)
        total += samples
        part = next((name for name, keys in PARTS if any(k in stack for k in keys)), "other")
        parts[part] += samples
        leaves[_function(stack.rsplit(";", 1)[-1])] += samples
    if not total:
        return "no samples"
    lines = [f"{total} samples; share of CPU by part:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in parts.most_common()]
    lines.append(f"busiest functions (own time), top {top}:")
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in leaves.most_common(top)]
    return "\n".join(lines)


def _function(frame: str) -> str:
    """``name (path/to/module.py:123)`` → ``name (module.py)``."""
    name, _, where = frame.partition(" (")
    if not name.strip():
        return "(native code, no Python frame)"
    return f"{name} ({where.split(':')[0].rsplit('/', 1)[-1]})" if where else name
