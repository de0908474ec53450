"""The tools file: what it may declare (HTTP endpoints, MCP servers), read and checked.

A bad file must stop startup with one line that says where and why — not surface later
as a model's failed call — so every entry is validated and every ``${VAR}`` resolved
here, and ``loader`` checks every name for clashes, before a tool is handed out. The
format (see ``examples/tools.yaml``)::

    http:                       # HTTP endpoints, one tool each
      - name: weather           # ^[a-zA-Z0-9_-]{1,64}$ (what model APIs accept)
        description: ...        # what the model reads to decide when to call it
        parameters: {...}       # JSON schema of the arguments (type: object)
        method: GET             # GET POST PUT PATCH DELETE; default POST
        url: https://h/x/{city} # {placeholders} are filled from the arguments
        headers: {Authorization: "Bearer ${WEATHER_KEY}"}
        timeout: 10             # s
    mcp:                        # MCP servers; each of their tools is <server>__<tool>
      - name: files
        command: [npx, -y, "@modelcontextprotocol/server-filesystem", /data]
        args: []                # appended to command
        env: {TOKEN: "${FILES_TOKEN}"}
        cwd: /srv
        startup_timeout: 30     # s for initialize + tools/list
      - name: remote
        url: https://mcp.example.com/mcp   # streamable HTTP
        headers: {Authorization: "Bearer ${REMOTE_TOKEN}"}

``${VAR}`` is read from the environment at load time in ``url``, ``headers``, and in
``command``, ``args``, ``env`` and ``cwd``; an unset variable is an error naming it.
Validation messages never quote values: headers and env hold secrets.
"""

import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml  # type: ignore[import-untyped]
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from chatorch.adapters.tools.http import check_url_template

TOOL_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_SERVER_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,32}$")
_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_MAX_ERRORS = 3  # per entry, so the message stays one readable line

_Model = TypeVar("_Model", bound=BaseModel)


class ToolConfigError(Exception):
    """The tools file cannot be used; the message (one line) says where and why."""


def expand_env(text: str) -> str:
    """Replace each ``${VAR}`` with its environment value.

    Raises:
        ValueError: a variable is not set (named in the message, its value never is).
    """

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        found = os.environ.get(name)
        if found is None:
            raise ValueError(f"environment variable {name} is not set")
        return found

    return _ENV_RE.sub(value, text)


def _tool_name(name: str) -> str:
    if not TOOL_NAME_RE.fullmatch(name):
        raise ValueError("must be 1-64 letters, digits, '_' or '-' (what model APIs accept)")
    return name


def _server_name(name: str) -> str:
    if not _SERVER_NAME_RE.fullmatch(name):
        raise ValueError("must be 1-32 letters, digits, '_' or '-'")
    return name


def _one_line(value: str) -> str:
    if "\r" in value or "\n" in value:  # often a secret read from a file with its newline
        raise ValueError("contains a line break, which a header cannot carry")
    return value


def _split_command(value: object) -> object:
    return shlex.split(value) if isinstance(value, str) else value


EnvStr = Annotated[str, AfterValidator(expand_env)]
"""A string whose ``${VAR}`` references are resolved while the file is validated."""
HeaderValue = Annotated[str, AfterValidator(expand_env), AfterValidator(_one_line)]
ToolName = Annotated[str, AfterValidator(_tool_name)]
ServerName = Annotated[str, AfterValidator(_server_name)]


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HttpToolConfig(_Entry):
    """One ``http:`` entry: an endpoint the model may call."""

    name: ToolName
    description: str = Field(min_length=1)
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    url: EnvStr
    headers: dict[str, HeaderValue] = Field(default_factory=dict, repr=False)
    timeout: float = Field(default=10.0, gt=0, le=600)

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("parameters")
    @classmethod
    def _object_schema(cls, schema: dict[str, Any]) -> dict[str, Any]:
        if schema.get("type", "object") != "object":
            raise ValueError("must be a JSON schema of type object")
        properties = schema.get("properties", {})
        if not isinstance(properties, dict):
            raise ValueError("properties must be a mapping")
        return {**schema, "type": "object", "properties": properties}

    @model_validator(mode="after")
    def _url_matches_parameters(self) -> "HttpToolConfig":
        check_url_template(self.url, self.parameters["properties"])
        return self


class McpServerConfig(_Entry):
    """One ``mcp:`` entry: a server started as a subprocess (stdio) or reached by URL."""

    name: ServerName
    command: Annotated[list[EnvStr] | None, BeforeValidator(_split_command)] = None
    args: list[EnvStr] = Field(default_factory=list)
    env: dict[str, EnvStr] = Field(default_factory=dict, repr=False)
    cwd: EnvStr | None = None
    url: EnvStr | None = None
    headers: dict[str, HeaderValue] = Field(default_factory=dict, repr=False)
    startup_timeout: float = Field(default=30.0, gt=0, le=600)

    @model_validator(mode="after")
    def _one_transport(self) -> "McpServerConfig":
        if (self.command is None) == (self.url is None):
            raise ValueError("give either command (stdio) or url (streamable HTTP)")
        if self.command is not None:
            if not self.command:
                raise ValueError("command must not be empty")
            if self.headers:
                raise ValueError("headers go with url, not with command")
        else:
            if self.args or self.env or self.cwd is not None:
                raise ValueError("args, env and cwd go with command, not with url")
            if not str(self.url).startswith(("http://", "https://")):
                raise ValueError("url must start with http:// or https://")
        return self


@dataclass(frozen=True, slots=True)
class ToolsFile:
    """A tools file, validated: where it is, its HTTP tools and its MCP servers, in order."""

    source: str
    http: list[HttpToolConfig]
    mcp: list[McpServerConfig]


def read_tools_file(path: str | Path) -> ToolsFile:
    """Read and validate the tools file at ``path``, every ``${VAR}`` resolved.

    Raises:
        ToolConfigError: the file is missing, unreadable, not YAML, or an entry is
            invalid; the one-line message names the file and the entry.
    """
    source = str(path)
    http, mcp = _parse(source, _read(Path(path), source))
    return ToolsFile(source, http, mcp)


def _read(path: Path, source: str) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ToolConfigError(f"{source}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ToolConfigError(f"{source}: cannot read the file: {exc}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or "not valid YAML"
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ToolConfigError(f"{source}: invalid YAML{at}: {problem}") from None


def _parse(source: str, data: object) -> tuple[list[HttpToolConfig], list[McpServerConfig]]:
    if data is None:
        return [], []
    if not isinstance(data, Mapping):
        raise ToolConfigError(f"{source}: expected a mapping with the keys http and mcp")
    unknown = sorted(str(key) for key in data if key not in ("http", "mcp"))
    if unknown:
        raise ToolConfigError(
            f"{source}: unknown key {', '.join(map(repr, unknown))} (expected http, mcp)"
        )
    http = [
        _validate(HttpToolConfig, entry, f"{source}: http[{index}]")
        for index, entry in enumerate(_entries(data, "http", source))
    ]
    mcp = [
        _validate(McpServerConfig, entry, f"{source}: mcp[{index}]")
        for index, entry in enumerate(_entries(data, "mcp", source))
    ]
    return http, mcp


def _entries(data: Mapping[Any, Any], key: str, source: str) -> list[object]:
    entries = data.get(key)
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise ToolConfigError(f"{source}: {key} must be a list")
    return entries


def _validate(model: type[_Model], entry: object, where: str) -> _Model:
    if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
        where = f"{where} ({entry['name']})"
    if not isinstance(entry, Mapping):
        raise ToolConfigError(f"{where}: expected a mapping")
    try:
        return model.model_validate(entry)
    except ValidationError as exc:
        raise ToolConfigError(f"{where}: {_describe(exc)}") from None


def _describe(exc: ValidationError) -> str:
    """Pydantic's errors as one line, by field path, without the rejected values."""
    problems: list[str] = []
    for error in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(part) for part in error["loc"])
        kind = error["type"]
        if kind == "extra_forbidden":
            message = "unknown key"
        elif kind == "missing":
            message = "field required"
        elif kind == "value_error":
            message = str(error.get("ctx", {}).get("error", error["msg"]))
        else:
            message = error["msg"][:1].lower() + error["msg"][1:]
        problems.append(f"{field}: {message}" if field else message)
    extra = len(problems) - _MAX_ERRORS
    shown = "; ".join(problems[:_MAX_ERRORS])
    return f"{shown}; and {extra} more" if extra > 0 else shown
