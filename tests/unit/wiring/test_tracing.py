"""Tracing is on only with an endpoint: then the SDK exports over OTLP/HTTP, flushed
when the role stops; off, no SDK provider is installed at all.

A tracer provider is set once per process, so each case runs ``assemble`` in a fresh
interpreter, exporting to the fake collector (``tests/fixtures/fake_otlp.py``).
"""

import asyncio
import sys
import tempfile
from pathlib import Path

import pytest
from pydantic import ValidationError

from chatorch import __version__
from chatorch.settings import Settings
from chatorch.wiring.tracing import traces_endpoint
from tests.fixtures.fake_otlp import fake_otlp_collector

ROOT = Path(__file__).resolve().parents[3]
_PROBE = """
import asyncio
from opentelemetry import trace
from chatorch import tracing
from chatorch.settings import Settings
from chatorch.wiring import assemble

async def main() -> None:
    async with assemble(Settings(_env_file=None), role="serve"):
        print(type(trace.get_tracer_provider()).__name__, tracing.active(), flush=True)
        with tracing.span("probe"):
            pass

asyncio.run(main())
"""


async def _probe(tmp_path: Path, **env: str) -> str:
    """Assemble a ``serve`` role in a fresh interpreter, make one span, stop; its line."""
    folder = tempfile.mkdtemp(dir=tmp_path)  # each process's data its own
    base = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "src")}
    database = {"CHATORCH_DATABASE_URL": f"sqlite+aiosqlite:///{folder}/chatorch.db"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _PROBE,
        cwd=folder,
        env=base | database | env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    assert not err.strip(), err.decode()  # an export that failed says so on stderr
    return out.decode().strip()


class TestOnlyWithAnEndpoint:
    async def test_off_no_sdk_provider_is_installed(self, tmp_path: Path) -> None:
        assert await _probe(tmp_path) == "ProxyTracerProvider False"

    async def test_on_spans_reach_the_collector_when_the_process_stops(
        self, tmp_path: Path
    ) -> None:
        async with fake_otlp_collector() as collector:
            line = await _probe(
                tmp_path,
                CHATORCH_OTLP_ENDPOINT=collector.url,
                OTEL_EXPORTER_OTLP_HEADERS="x-tenant=chatorch-tests",
                OTEL_BSP_SCHEDULE_DELAY="60000",  # so only the shutdown's flush sends it
            )
        assert line == "TracerProvider True"
        (probe,) = collector.named("probe")
        assert probe.resource["service.name"] == "chatorch"
        assert probe.resource["service.version"] == __version__
        assert probe.resource["chatorch.role"] == "serve"
        assert probe.scope == "chatorch"
        assert collector.headers[0]["x-tenant"] == "chatorch-tests"

    async def test_the_standard_variable_turns_it_on_and_the_sampler_is_honoured(
        self, tmp_path: Path
    ) -> None:
        async with fake_otlp_collector() as collector:
            on = await _probe(tmp_path, OTEL_EXPORTER_OTLP_ENDPOINT=collector.url)
            sampled_out = await _probe(
                tmp_path,
                OTEL_EXPORTER_OTLP_ENDPOINT=collector.url,
                OTEL_TRACES_SAMPLER="always_off",
            )
        assert on == sampled_out == "TracerProvider True"
        assert len(collector.named("probe")) == 1  # the second run sampled it out

    async def test_otel_sdk_disabled_wins(self, tmp_path: Path) -> None:
        line = await _probe(
            tmp_path, CHATORCH_OTLP_ENDPOINT="http://127.0.0.1:9", OTEL_SDK_DISABLED="true"
        )
        assert line == "ProxyTracerProvider False"


class TestTheEndpoint:
    def _settings(self, **values: str) -> Settings:
        return Settings(_env_file=None, **values)  # type: ignore[arg-type]

    def test_a_base_url_gets_the_traces_path(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
            monkeypatch.delenv(name, raising=False)
        assert traces_endpoint(self._settings()) is None
        base = self._settings(otlp_endpoint="http://collector:4318")
        assert traces_endpoint(base) == "http://collector:4318/v1/traces"
        full = self._settings(otlp_endpoint="https://otel.example.com/v1/traces")
        assert traces_endpoint(full) == "https://otel.example.com/v1/traces"

    def test_a_url_that_is_not_http_is_refused_naming_the_setting(self) -> None:
        with pytest.raises(ValidationError, match="CHATORCH_OTLP_ENDPOINT"):
            self._settings(otlp_endpoint="collector:4317")
