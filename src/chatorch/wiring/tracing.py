"""The tracer provider: the OpenTelemetry SDK and its OTLP/HTTP exporter, when asked for.

On only when an endpoint is configured — ``CHATORCH_OTLP_ENDPOINT``, or the standard
``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` — and
``OTEL_SDK_DISABLED`` is not ``true``. Off, no SDK provider is installed: the API's
no-op tracer stays, and ``chatorch.tracing`` returns at its first line.

The exporter reads the other ``OTEL_EXPORTER_OTLP_*`` variables itself (headers,
timeout, compression, certificates) and the provider reads ``OTEL_TRACES_SAMPLER`` and
``OTEL_TRACES_SAMPLER_ARG``; spans leave in batches (``BatchSpanProcessor``, its
``OTEL_BSP_*`` variables). The provider is shut down, its last spans flushed, when the
role stops.
"""

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from chatorch import __version__, tracing
from chatorch.container import Role
from chatorch.settings import Settings

TRACES_PATH = "/v1/traces"
_STANDARD = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


def traces_endpoint(settings: Settings) -> str | None:
    """Where spans go, or None when tracing is off.

    ``CHATORCH_OTLP_ENDPOINT`` is a collector's base URL, as ``OTEL_EXPORTER_OTLP_ENDPOINT``
    is (``http://localhost:4318`` → ``…/v1/traces``); a URL that already ends in
    ``/v1/traces`` is taken as it is. Without it the exporter finds the standard
    variables itself ("" here: on, at the exporter's choice).
    """
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    if settings.otlp_endpoint:
        url = settings.otlp_endpoint
        return url if urlsplit(url).path.endswith(TRACES_PATH) else url + TRACES_PATH
    if any(os.environ.get(name, "").strip() for name in _STANDARD):
        return ""
    return None


@asynccontextmanager
async def traced(settings: Settings, *, role: Role) -> AsyncIterator[None]:
    """Trace ``role`` while inside, if an endpoint is configured; flush on the way out."""
    endpoint = traces_endpoint(settings)
    if endpoint is None:
        yield
        return
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create(
        {"service.name": "chatorch", "service.version": __version__, "chatorch.role": role}
    )
    provider = TracerProvider(resource=resource)  # the sampler: OTEL_TRACES_SAMPLER
    exporter = OTLPSpanExporter(endpoint=endpoint or None)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    tracing.activate(provider)
    try:
        yield
    finally:
        tracing.deactivate()
        # Exports what is still queued: a blocking HTTP call, off the event loop.
        await asyncio.to_thread(provider.shutdown)
