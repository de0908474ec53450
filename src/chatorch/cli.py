"""Command line: ``chatorch serve | migrate | chat | version``."""

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from pydantic import ValidationError

from chatorch import __version__
from chatorch.settings import Settings

if TYPE_CHECKING:
    from chatorch.container import Role

# Heavier modules (the app, drivers, SDKs) load inside the commands that use them,
# so `chatorch version` and `chatorch chat` start quickly.

app = typer.Typer(
    name="chatorch",
    help="Conversational-AI orchestration: any channel, Think → Act → Respond, streamed.",
    no_args_is_help=True,
    add_completion=False,
)

GRACEFUL_SHUTDOWN = 5  # s open streams get to finish when the server stops


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as error:
        _fail("invalid settings: " + "; ".join(_explain(e) for e in error.errors()))


def _explain(error: Any) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    setting = f"CHATORCH_{str(error['loc'][0]).upper()}" if error["loc"] else "CHATORCH_*"
    return message if setting in message else f"{setting}: {message}"


def _fail(message: str) -> NoReturn:
    typer.echo(f"chatorch: {message}", err=True)
    raise typer.Exit(code=1)


def _run(main: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop when it is installed (it is, with uvicorn[standard])."""
    try:
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(main)
    except ImportError:  # pragma: no cover - uvloop missing on this platform
        asyncio.run(main)


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
        _fail(
            f"binding to {settings.host} without authentication would let anyone read every "
            "chat; set CHATORCH_AUTH_REQUIRED=true (and create keys with `chatorch keys "
            "create`), or bind to 127.0.0.1"
        )
    typer.echo(
        "No authentication: every request acts as the local user, on this machine only. "
        "Set CHATORCH_AUTH_REQUIRED=true to require API keys or tokens.",
        err=True,
    )


async def _serve(settings: Settings, role: "Role") -> None:
    import uvicorn

    from chatorch import gc_tuning
    from chatorch.api.app import create_app
    from chatorch.api.events import StreamHub
    from chatorch.wiring import StartupError, assemble

    class _MetricsServer(uvicorn.Server):
        """The metrics port: the main server's signal handling stops it too."""

        def capture_signals(self) -> Any:
            return contextlib.nullcontext()

    class _DrainingServer(uvicorn.Server):
        """On SIGTERM, end open event streams at once, so their clients move elsewhere."""

        def __init__(self, config: uvicorn.Config, *, streams: StreamHub) -> None:
            super().__init__(config)
            self._streams = streams
            self.companions: list[uvicorn.Server] = []

        def handle_exit(self, sig: int, frame: Any) -> None:
            self._streams.drain()
            for companion in self.companions:
                companion.should_exit = True
            super().handle_exit(sig, frame)
            # uvicorn would re-raise the signal once the server stops, killing the process
            # before the worker hands back its work and the connections close; we exit 0.
            self._captured_signals.clear()

    try:
        async with assemble(settings, role=role) as container:
            app = create_app(settings, role=role, container=container)
            gc_tuning.settle()
            config = uvicorn.Config(
                app,
                host=settings.host,
                port=settings.port,
                http="httptools",
                log_config=None,
                access_log=False,
                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
            )
            server = _DrainingServer(config, streams=app.state.streams)
            servers = [server.serve()]
            if settings.metrics_port is not None:
                metrics_app = create_app(
                    settings, role=role, container=container, metrics_only=True
                )
                metrics = uvicorn.Config(
                    metrics_app,
                    host=settings.host,
                    port=settings.metrics_port,
                    log_config=None,
                    access_log=False,
                )
                companion = _MetricsServer(metrics)
                server.companions.append(companion)
                servers.append(companion.serve())
            typer.echo(
                f"chatorch {__version__} serving on http://{settings.host}:{settings.port}/",
                err=True,
            )
            await asyncio.gather(*servers)
    except StartupError as error:
        _fail(str(error))


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="address to bind [default: 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="port to bind [default: 8000]")] = None,
) -> None:
    """Run gateway, worker and scheduler in one process (the embedded default)."""
    _serve_http("serve", host=host, port=port)


@app.command()
def gateway(
    host: Annotated[str | None, typer.Option(help="address to bind [default: 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="port to bind [default: 8000]")] = None,
) -> None:
    """Run the HTTP API and event streams only; workers answer (distributed mode)."""
    _serve_http("gateway", host=host, port=port)


def _serve_http(role: "Role", *, host: str | None, port: int | None) -> None:
    from chatorch.logs import configure as configure_logs

    settings = _settings(host=host, port=port)
    configure_logs(level=settings.log_level, fmt=settings.log_format)
    _refuse_open_exposure(settings)
    _run(_serve(settings, role))


@app.command()
def worker(
    port: Annotated[
        int | None, typer.Option(help="serve /healthz, /readyz and /metrics on this port")
    ] = None,
) -> None:
    """Run the pipeline on work from the bus, without the public API (distributed mode)."""
    from chatorch.logs import configure as configure_logs

    settings = _settings(port=port)
    configure_logs(level=settings.log_level, fmt=settings.log_format)
    _run(_serve(settings, "worker") if port is not None else _work(settings))


async def _work(settings: Settings) -> None:
    """A worker with no HTTP port: run until SIGTERM or SIGINT."""
    import signal

    from chatorch import gc_tuning
    from chatorch.wiring import StartupError, assemble

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with assemble(settings, role="worker") as container:
            gc_tuning.settle()
            typer.echo(f"chatorch {__version__} worker {container.pod_id} running", err=True)
            await stop.wait()
    except StartupError as error:
        _fail(str(error))


@app.command()
def status() -> None:
    """List the live gateways and workers of this deployment, with their load."""
    from chatorch.logs import configure as configure_logs
    from chatorch.wiring import StartupError, live_processes

    settings = _settings()
    configure_logs(level="warning", fmt=settings.log_format)  # stdout is for the table
    try:
        rows = asyncio.run(live_processes(settings))
    except StartupError as error:
        _fail(str(error))
    if not rows:
        typer.echo(f"no chatorch process answers in namespace {settings.namespace!r}")
        raise typer.Exit(code=1)
    typer.echo(
        f"{'ROLE':<8} {'POD':<28} {'VERSION':<8} {'IN FLIGHT':>9} {'STREAMS':>7} {'DONE':>6}"
    )
    for row in rows:
        load = row["load"]
        typer.echo(
            f"{row['role']:<8} {row['pod_id']:<28} {row['version']:<8} "
            f"{load.get('answers_in_flight', 0):>9.0f} {load.get('streams_open', 0):>7.0f} "
            f"{load.get('answers_complete', 0):>6.0f}"
        )


keys = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
app.add_typer(keys, name="keys")


@keys.command("create")
def keys_create(
    user: Annotated[str, typer.Option(help="whose key; the user is created if new")],
    role: Annotated[str, typer.Option(help="user, operator or admin")] = "user",
    name: Annotated[str, typer.Option(help="a label to recognise the key")] = "",
    expires_days: Annotated[int | None, typer.Option(help="days until it expires")] = None,
) -> None:
    """Make an API key; it is printed alone on the last line, and shown only this once."""
    from datetime import timedelta

    from chatorch.domain.entities import AccessRole

    if role not in AccessRole._value2member_map_:
        _fail(f"unknown role {role!r}; use user, operator or admin")
    expires = None if expires_days is None else timedelta(days=expires_days)

    async def create() -> tuple[str, str]:
        from chatorch.wiring import store_only

        async with store_only(_settings()) as auth:
            key, stored = await auth.create_key(
                user_name=user, role=AccessRole(role), name=name, expires_in=expires
            )
            return key, f"key {stored.id} for {user} ({role}), prefix {stored.prefix}"

    key, summary = _with_store(create)
    typer.echo(summary)
    typer.echo("Send it as: Authorization: Bearer <key>. It is not shown again.")
    typer.echo(key)


@keys.command("list")
def keys_list() -> None:
    """List every key (never the key itself)."""

    async def rows() -> list[str]:
        from chatorch.wiring import store_only

        async with store_only(_settings()) as auth:
            found = await auth.list_keys()
        return [
            f"{k.id}  {k.prefix}…  {user:<20} {k.role.value:<8} {_state(k)}" for k, user in found
        ]

    for row in _with_store(rows):
        typer.echo(row)


@keys.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="the key's id (see keys list)")],
) -> None:
    """Revoke a key at once; requests with it get 401 from then on."""
    from uuid import UUID

    try:
        parsed = UUID(key_id)
    except ValueError:
        _fail(f"{key_id!r} is not a key id")

    async def revoke() -> str:
        from chatorch.wiring import store_only

        async with store_only(_settings()) as auth:
            revoked = await auth.revoke_key(parsed)
        return f"revoked {revoked.prefix}…"

    typer.echo(_with_store(revoke))


def _state(key: Any) -> str:
    if key.revoked_at is not None:
        return "revoked"
    return f"expires {key.expires_at:%Y-%m-%d}" if key.expires_at else "active"


def _with_store(work: Any) -> Any:
    """Run a store job for `chatorch keys`, turning expected failures into one line."""
    from chatorch.domain.errors import ChatorchError
    from chatorch.wiring import StartupError

    try:
        return asyncio.run(work())
    except (StartupError, ChatorchError) as error:
        _fail(getattr(error, "detail", str(error)))


secrets_app = typer.Typer(
    help="Secrets stored encrypted (CHATORCH_SECRET_KEYS).", no_args_is_help=True
)
app.add_typer(secrets_app, name="secrets")


@secrets_app.command("new-key")
def secrets_new_key() -> None:
    """Print a fresh Fernet key for CHATORCH_SECRET_KEYS."""
    from chatorch.services.secrets import new_key

    typer.echo(new_key())


@secrets_app.command("set")
def secrets_set(name: Annotated[str, typer.Argument(help="e.g. openai_api_key")]) -> None:
    """Store a secret read from standard input (so it stays out of shell history)."""
    value = sys.stdin.read().strip()

    async def put() -> str:
        async with _vault() as vault:
            await vault.put(name, value)
        return f"stored {name}"

    typer.echo(_with_store(put))


@secrets_app.command("rotate")
def secrets_rotate() -> None:
    """Re-encrypt every secret with the first key of CHATORCH_SECRET_KEYS."""

    async def rotate() -> str:
        async with _vault() as vault:
            count = await vault.rotate()
        return f"re-encrypted {count} secrets with the first key"

    typer.echo(_with_store(rotate))


@asynccontextmanager
async def _vault() -> AsyncIterator[Any]:
    from chatorch.wiring import StartupError, store_only, vault_for

    settings = _settings()
    async with store_only(settings) as auth:
        vault = vault_for(settings, auth.store)
        if vault is None:
            raise StartupError("CHATORCH_SECRET_KEYS is not set: nothing can be encrypted")
        yield vault


@app.command()
def migrate(
    downgrade: Annotated[
        str | None, typer.Option(help="migrate down to this revision ('base' drops all)")
    ] = None,
) -> None:
    """Migrate the database at CHATORCH_DATABASE_URL up to the latest schema (or down)."""
    from chatorch.wiring import StartupError, migrate_database

    settings = _settings()
    try:
        revision = migrate_database(settings.database_url, downgrade=downgrade)
    except StartupError as error:
        _fail(str(error))
    typer.echo(f"database at revision {revision or 'base (empty)'}")


@app.command()
def chat(
    text: Annotated[str, typer.Argument(help="the message to send")],
    url: Annotated[str, typer.Option(help="chatorch base URL")] = "http://127.0.0.1:8000",
    chat_id: Annotated[str | None, typer.Option("--chat", help="continue this chat")] = None,
) -> None:
    """Send one message and print the answer's tokens as they arrive."""
    from chatorch.client import ClientError, converse

    try:
        ok = asyncio.run(converse(url, text, chat_id=chat_id, out=sys.stdout, err=sys.stderr))
    except ClientError as error:
        _fail(str(error))
    raise typer.Exit(code=0 if ok else 1)


@app.command()
def version() -> None:
    """Print chatorch's version."""
    typer.echo(__version__)
