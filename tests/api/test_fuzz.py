"""Schemathesis against the app's own OpenAPI schema: no 5xx, every answer as documented.

A real server (uvicorn in a thread, SQLite under a temp dir) with the offline model.
The in-process run is bounded to well under a minute; the command line's every check
(``--checks all``: schema-valid requests accepted, invalid ones refused, resources
usable after creation, stateful sequences along the document's links) to a few.
"""

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import hypothesis
import pytest
import schemathesis
import uvicorn

from chatorch.api.app import create_app
from tests.api.conftest import settings_for

EXAMPLES = 12  # per operation
ALL_CHECKS_BUDGET = 150  # s the command line's run may take, every phase together


@pytest.fixture(scope="module")
def schema_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = settings_for(tmp_path_factory.mktemp("fuzz"), heartbeat_seconds=0.2)
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_config=None)
    )
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/openapi.json"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="module")
def api_schema(schema_url: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(schema_url)


def test_no_route_breaks_or_strays_from_its_schema(api_schema: schemathesis.BaseSchema) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 10  # every documented route is fuzzed
    for operation in operations:

        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(hypothesis.HealthCheck),
            derandomize=True,
            database=None,
        )
        def fuzz(case: schemathesis.Case) -> None:
            case.call_and_validate(timeout=10)

        fuzz()


@pytest.mark.timeout(ALL_CHECKS_BUDGET + 60)
def test_every_check_of_the_command_line_passes(schema_url: str, tmp_path: Path) -> None:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        schema_url,
        "--checks=all",
        f"--max-time={ALL_CHECKS_BUDGET}",
        "--max-examples=10",
        "--seed=20261205",
        "--generation-deterministic",
        "--suppress-health-check=all",
        "--request-timeout=10",
        "--workers=1",
        "--no-color",
    ]
    run = subprocess.run(  # in tmp_path: the command line leaves a .schemathesis folder
        command, cwd=tmp_path, capture_output=True, text=True, timeout=ALL_CHECKS_BUDGET + 50
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]


def test_the_schema_documents_problems(tmp_path: Path) -> None:
    app = create_app(settings_for(tmp_path))
    spec = app.openapi()
    responses = spec["paths"]["/v1/chats/{chat_id}/messages"]["post"]["responses"]
    for status in ("400", "404", "409", "413", "415", "422", "429"):
        assert "application/problem+json" in responses[status]["content"]
