"""``chatorch status``: the live gateways and workers of a deployment, as a table."""

import asyncio

import typer

from chatorch.cli.common import fail, load_settings


def status() -> None:
    """List the live gateways and workers of this deployment, with their load."""
    from chatorch.logs import configure as configure_logs
    from chatorch.wiring import StartupError, live_processes

    settings = load_settings()
    configure_logs(level="warning", fmt=settings.log_format)  # stdout is for the table
    try:
        rows = asyncio.run(live_processes(settings))
    except StartupError as error:
        fail(str(error))
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
