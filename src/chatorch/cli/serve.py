"""``chatorch serve | gateway | worker``: the long-running processes.

Everything they print is a log line in the one format of ``chatorch.logs`` — ours,
uvicorn's and the libraries' alike — except a failed start, which is one plain line
(``common.fail``) naming the setting to fix.
"""

import asyncio
from typing import TYPE_CHECKING, Annotated, Any

import typer

from chatorch import __version__
from chatorch.cli.common import fail, load_settings, run
from chatorch.settings import Settings

if TYPE_CHECKING:
    from chatorch.container import Role

HostOption = Annotated[str | None, typer.Option(help="address to bind; default 127.0.0.1")]
PortOption = Annotated[int | None, typer.Option(help="port to bind; default 8000")]


def serve(host: HostOption = None, port: PortOption = None) -> None:
    """Run gateway, worker and scheduler in one process (the embedded default)."""
    _serve_http("serve", host=host, port=port)


def gateway(host: HostOption = None, port: PortOption = None) -> None:
    """Run the HTTP API and event streams only; workers answer (distributed mode)."""
    _serve_http("gateway", host=host, port=port)


def worker(
    port: Annotated[
        int | None, typer.Option(help="serve /healthz, /readyz and /metrics on this port")
    ] = None,
) -> None:
    """Run the pipeline on work from the bus, without the public API (distributed mode)."""
    settings = _configured(port=port)
    run(_serve(settings, "worker") if port is not None else _work(settings))


def _serve_http(role: "Role", *, host: str | None, port: int | None) -> None:
    settings = _configured(host=host, port=port)
    _refuse_open_exposure(settings)
    run(_serve(settings, role))


def _configured(**options: Any) -> Settings:
    """The settings, with logging configured by them before anything else can log."""
    from chatorch.logs import configure as configure_logs

    settings = load_settings(**options)
    configure_logs(level=settings.log_level, fmt=settings.log_format)
    return settings


def _refuse_open_exposure(settings: Settings) -> None:
    """Without authentication every request is the local user: only loopback may see that."""
    import ipaddress

    if settings.auth_required:
        return
    host = settings.host.strip("[]")
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        fail(
            f"binding to {settings.host} without authentication would let anyone read every "
            "chat; set CHATORCH_AUTH_REQUIRED=true (and create keys with `chatorch keys "
            "create`), or bind to 127.0.0.1"
        )


def _warn_if_open(settings: Settings, role: "Role") -> None:
    """Said once the start has succeeded, so that a failed start stays one line."""
    import structlog

    if role != "worker" and not settings.auth_required:
        structlog.get_logger("chatorch.cli").warning(
            "auth.disabled",
            detail="every request acts as the local user, on this machine only; set "
            "CHATORCH_AUTH_REQUIRED=true to require API keys or tokens",
        )


async def _serve(settings: Settings, role: "Role") -> None:
    """The role's app (or, for a worker, its probes) over HTTP until SIGTERM or SIGINT."""
    from chatorch import gc_tuning
    from chatorch.api.app import create_app
    from chatorch.cli.servers import http_servers
    from chatorch.wiring import StartupError, assemble

    try:
        async with assemble(settings, role=role) as container:
            app = create_app(settings, role=role, container=container)
            metrics = None
            if settings.metrics_port is not None:
                metrics = create_app(settings, role=role, container=container, metrics_only=True)
            gc_tuning.settle()
            _warn_if_open(settings, role)
            servers = http_servers(settings, app, metrics=metrics)
            await asyncio.gather(*(server.serve() for server in servers))
    except StartupError as error:
        fail(str(error))


async def _work(settings: Settings) -> None:
    """A worker with no HTTP port: run until SIGTERM or SIGINT."""
    import signal

    import structlog

    from chatorch import gc_tuning
    from chatorch.wiring import StartupError, assemble

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with assemble(settings, role="worker") as container:
            gc_tuning.settle()
            structlog.get_logger("chatorch.cli").info(
                "chatorch.started", role="worker", pod_id=container.pod_id, version=__version__
            )
            await stop.wait()
    except StartupError as error:
        fail(str(error))
