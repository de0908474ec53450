"""tools.yaml loading: a good file gives tools; a bad one one line saying where and why."""

import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest
import yaml

from chatorch.adapters.tools import BUILTIN_TOOL_NAMES, HttpTool, ToolConfigError, load_tools
from chatorch.adapters.tools.config import McpServerConfig, expand_env

ROOT = Path(__file__).resolve().parents[4]

VALID = """
http:
  - name: weather
    description: Current weather for a city.
    method: get
    url: https://api.example.com/v1/weather/{city}?key=${WEATHER_KEY}
    headers:
      Authorization: Bearer ${WEATHER_KEY}
    timeout: 5
    parameters:
      type: object
      properties:
        city: {type: string, description: The city name.}
      required: [city]
  - name: n8n_ticket
    description: Open a support ticket.
    url: https://n8n.example.com/webhook/6f1c2a9e-3b7d-4c1e-9a55-2f0d8e7b1c42
"""


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


@pytest.fixture(autouse=True)
def weather_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEATHER_KEY", "wk-0123456789")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tools.yaml"
    path.write_text(text, encoding="utf-8")
    return path


async def load(path: Path, client: httpx.AsyncClient) -> list[str]:
    async with AsyncExitStack() as stack:
        tools = await load_tools(path, stack=stack, http=client)
    return [tool.spec.name for tool in tools]


async def problem(tmp_path: Path, client: httpx.AsyncClient, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ToolConfigError) as failure:
        await load(path, client)
    message = str(failure.value)
    assert message.startswith(f"{path}: ")
    assert "\n" not in message
    return message.removeprefix(f"{path}: ")


async def test_a_valid_file(tmp_path: Path, client: httpx.AsyncClient) -> None:
    path = write(tmp_path, VALID)

    async with AsyncExitStack() as stack:
        weather, ticket = await load_tools(str(path), stack=stack, http=client)

    assert isinstance(weather, HttpTool)
    assert weather.spec.name == "weather"
    assert weather.spec.description == "Current weather for a city."
    assert weather.spec.parameters["required"] == ["city"]
    assert ticket.spec.parameters == {"type": "object", "properties": {}}
    assert repr(ticket) == "HttpTool(name='n8n_ticket', method=POST, host='n8n.example.com')"
    assert "wk-0123456789" not in repr(weather)


async def test_the_example_file_is_valid(
    tmp_path: Path, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (ROOT / "examples" / "tools.yaml").read_text(encoding="utf-8")
    for name in set(re.findall(r"\$\{(\w+)\}", text)):
        monkeypatch.setenv(name, f"value-of-{name}")
    data = yaml.safe_load(text)

    # The HTTP part loads as is; the MCP servers are only validated (not installed here).
    names = await load(write(tmp_path, yaml.safe_dump({"http": data["http"]})), client)
    servers = [McpServerConfig.model_validate(entry) for entry in data["mcp"]]

    assert names == ["weather", "customer_lookup", "create_ticket"]
    assert [server.name for server in servers] == ["github", "docs"]
    assert servers[0].env == {"GITHUB_PERSONAL_ACCESS_TOKEN": "value-of-GITHUB_TOKEN"}
    assert servers[1].url == "https://mcp.example.com/mcp"


async def test_empty_file_means_no_tools(tmp_path: Path, client: httpx.AsyncClient) -> None:
    assert await load(write(tmp_path, "# nothing yet\n"), client) == []
    assert await load(write(tmp_path, "http: []\nmcp:\n"), client) == []


async def test_missing_environment_variable_is_named(
    tmp_path: Path, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WEATHER_KEY")

    message = await problem(tmp_path, client, VALID)

    assert message == (
        "http[0] (weather): url: environment variable WEATHER_KEY is not set; "
        "headers.Authorization: environment variable WEATHER_KEY is not set"
    )


async def test_a_header_value_must_be_one_line(
    tmp_path: Path, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FROM_FILE", "token-read-from-a-file\n")
    text = "http:\n  - name: a\n    description: d\n    url: https://x/\n"
    text += "    headers: {X-Key: '${FROM_FILE}'}\n"

    message = await problem(tmp_path, client, text)

    assert (
        message == "http[0] (a): headers.X-Key: contains a line break, which a header cannot carry"
    )
    assert "token-read" not in message


async def test_missing_url(tmp_path: Path, client: httpx.AsyncClient) -> None:
    text = "http:\n  - {name: ok, description: d, url: 'https://a.example/'}\n"
    text += "  - {name: weather, description: d}\n"

    assert await problem(tmp_path, client, text) == "http[1] (weather): url: field required"


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("{name: a, description: d, url: 'https://x/', colour: red}", "colour: unknown key"),
        ("{name: a b, description: d, url: 'https://x/'}", "name: must be 1-64 letters"),
        ("{name: a, description: d, url: 'https://x/', method: FETCH}", "method: input should be"),
        ("{name: a, description: d, url: 'https://x/', timeout: 0}", "timeout: input should be"),
        ("{name: a, description: '', url: 'https://x/'}", "description: string should have"),
        ("{name: a, description: d, url: 'https://{city}/'}", "not the host"),
        ("{name: a, description: d, url: 'https://x/{city}'}", "city is not declared"),
        ("{name: a, description: d, url: 'https://x/', parameters: {type: array}}", "type object"),
        ("[not, a, mapping]", "expected a mapping"),
    ],
)
async def test_bad_http_entries(
    tmp_path: Path, client: httpx.AsyncClient, entry: str, expected: str
) -> None:
    message = await problem(tmp_path, client, f"http:\n  - {entry}\n")

    assert message.startswith("http[0]")
    assert expected in message


async def test_values_are_never_quoted_in_errors(tmp_path: Path, client: httpx.AsyncClient) -> None:
    text = "http:\n  - name: a\n    description: d\n    url: https://x/\n"
    text += "    headers: {Authorization: {token: super-secret-value}}\n"

    message = await problem(tmp_path, client, text)

    assert message.startswith("http[0] (a): headers.Authorization: input should be a valid string")
    assert "super-secret-value" not in message


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("{name: s}", "give either command (stdio) or url (streamable HTTP)"),
        ("{name: s, command: x, url: 'https://x/mcp'}", "give either command"),
        ("{name: s, command: x, headers: {A: b}}", "headers go with url"),
        ("{name: s, url: 'https://x/mcp', env: {A: b}}", "args, env and cwd go with command"),
        ("{name: s, url: 'ftp://x/mcp'}", "url must start with http"),
        ("{name: s, command: []}", "command must not be empty"),
        ("{name: 'a.b', command: x}", "name: must be 1-32 letters"),
        ("{name: s, command: x, restart: always}", "restart: unknown key"),
    ],
)
async def test_bad_mcp_entries(
    tmp_path: Path, client: httpx.AsyncClient, entry: str, expected: str
) -> None:
    message = await problem(tmp_path, client, f"mcp:\n  - {entry}\n")

    assert message.startswith("mcp[0]")
    assert expected in message


async def test_duplicate_names(tmp_path: Path, client: httpx.AsyncClient) -> None:
    text = VALID + "  - {name: weather, description: again, url: 'https://b.example/'}\n"

    message = await problem(tmp_path, client, text)

    assert message == "http[2] (weather): tool name 'weather' is already used by http[0] (weather)"


async def test_duplicate_server_names(tmp_path: Path, client: httpx.AsyncClient) -> None:
    text = "mcp:\n  - {name: s, command: a}\n  - {name: s, url: 'https://x/mcp'}\n"

    assert await problem(tmp_path, client, text) == "mcp[1] (s): another MCP server has this name"


@pytest.mark.parametrize("name", sorted(BUILTIN_TOOL_NAMES))
async def test_builtin_names_are_reserved(
    tmp_path: Path, client: httpx.AsyncClient, name: str
) -> None:
    text = f"http:\n  - {{name: {name}, description: d, url: 'https://x/'}}\n"

    message = await problem(tmp_path, client, text)

    assert message == f"http[0] ({name}): tool name {name!r} is already used by a built-in tool"


async def test_reserved_names_can_be_chosen(tmp_path: Path, client: httpx.AsyncClient) -> None:
    path = write(tmp_path, "http:\n  - {name: calculator, description: d, url: 'https://x/'}\n")

    async with AsyncExitStack() as stack:
        tools = await load_tools(path, stack=stack, http=client, reserved=())

    assert [tool.spec.name for tool in tools] == ["calculator"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "http:\n  - name: a\n   description: b\n",
            "invalid YAML at line 3, column 4: expected <block end>",
        ),
        ("http: [unclosed\n", "invalid YAML at line 2, column 1: "),
        ("- just\n- a list\n", "expected a mapping with the keys http and mcp"),
        ("tools: []\nhttp: []\n", "unknown key 'tools' (expected http, mcp)"),
        ("http: {name: a}\n", "http must be a list"),
    ],
)
async def test_bad_files(
    tmp_path: Path, client: httpx.AsyncClient, text: str, expected: str
) -> None:
    assert (await problem(tmp_path, client, text)).startswith(expected)


async def test_missing_file(tmp_path: Path, client: httpx.AsyncClient) -> None:
    path = tmp_path / "absent.yaml"

    with pytest.raises(ToolConfigError, match=r"absent\.yaml: file not found"):
        await load(path, client)


def test_mcp_command_forms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_DIR", "/srv/data dir")

    as_text = McpServerConfig.model_validate(
        {"name": "files", "command": "npx -y '@scope/server' ${DATA_DIR}", "args": ["--ro"]}
    )
    as_list = McpServerConfig.model_validate({"name": "files", "command": ["npx", "${DATA_DIR}"]})

    assert as_text.command == ["npx", "-y", "@scope/server", "/srv/data dir"]
    assert as_text.args == ["--ro"]
    assert as_list.command == ["npx", "/srv/data dir"]


def test_expand_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("A_VAR", "alpha")
    monkeypatch.delenv("NOT_SET_VAR", raising=False)

    assert expand_env("x-${A_VAR}-$A_VAR-{A_VAR}") == "x-alpha-$A_VAR-{A_VAR}"
    with pytest.raises(ValueError, match="environment variable NOT_SET_VAR is not set"):
        expand_env("${NOT_SET_VAR}")
