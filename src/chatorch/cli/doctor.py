"""``chatorch doctor``: is everything the server needs there and working? One line per
check, with what to fix; exit 1 when something needed is broken.

The lines read the same with or without colour (``ok``, ``warn``, ``FAIL``); a terminal
gets them coloured too.
"""

from typing import Annotated

import typer

from chatorch.cli.common import load_settings, run

_MARKS = {"ok": ("ok  ", "green"), "warn": ("warn", "yellow"), "fail": ("FAIL", "red")}


def doctor(
    host: Annotated[
        str | None, typer.Option(help="the address `serve` will bind; default CHATORCH_HOST")
    ] = None,
) -> None:
    """Check the settings, every backing service and every model provider."""
    from chatorch.logs import configure as configure_logs
    from chatorch.wiring.doctor import Check, diagnose

    settings = load_settings()  # a bad setting ends here, in one line naming it
    configure_logs(level="error", fmt=settings.log_format)  # stdout is for the checks
    failed = False

    async def main() -> None:
        nonlocal failed
        read = Check("settings", "ok", "read from the environment and .env")
        checks = [read, *await diagnose(settings, host=host)]
        width = max(len(check.name) for check in checks)
        for check in checks:
            mark, colour = _MARKS[check.verdict]
            typer.echo(f"{typer.style(mark, fg=colour)} {check.name:<{width}}  {check.detail}")
        failed = any(check.verdict == "fail" for check in checks)

    run(main())
    if failed:
        typer.echo("chatorch: something it needs is broken: see the FAIL lines", err=True)
        raise typer.Exit(code=1)
