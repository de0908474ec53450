"""Settings refuse what cannot work, in one line naming the setting."""

from typing import Any

import pytest
from pydantic import ValidationError

from chatorch.settings import Settings


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def _refusal(**values: Any) -> str:
    with pytest.raises(ValidationError) as refused:
        _settings(**values)
    return str(refused.value.errors()[0]["msg"])


class TestChain:
    def test_the_chain_names_known_providers_with_their_models(self) -> None:
        assert _settings(llm="openai:gpt-4o-mini,builtin").llm == "openai:gpt-4o-mini,builtin"
        assert "CHATORCH_LLM names unknown provider 'gemini'" in _refusal(llm="gemini:pro")
        assert "CHATORCH_LLM: 'anthropic' needs a model, e.g. anthropic:claude-haiku-4-5" in (
            _refusal(llm="builtin,anthropic")
        )


class TestPlatformUrls:
    def test_defaults_reach_the_platforms_themselves(self) -> None:
        settings = _settings()
        assert settings.public_url is None
        assert settings.telegram_api_url == "https://api.telegram.org"
        assert settings.slack_api_url == "https://slack.com/api"
        assert settings.discord_api_url == "https://discord.com/api/v10"
        assert settings.meta_graph_url == "https://graph.facebook.com/v21.0"

    def test_an_absolute_url_is_accepted(self) -> None:
        settings = _settings(
            public_url="https://bots.example.com", telegram_api_url="http://127.0.0.1:8081/tg"
        )
        assert settings.public_url == "https://bots.example.com"
        assert settings.telegram_api_url == "http://127.0.0.1:8081/tg"

    @pytest.mark.parametrize(
        "url",
        ["bots.example.com", "ftp://bots.example.com", "https://", "https://bots.example.com/"],
    )
    @pytest.mark.parametrize("setting", ["public_url", "slack_api_url", "meta_graph_url"])
    def test_anything_else_is_refused_naming_the_setting(self, setting: str, url: str) -> None:
        assert f"CHATORCH_{setting.upper()}: {url!r}" in _refusal(**{setting: url})

    def test_a_query_or_fragment_is_refused(self) -> None:
        assert "CHATORCH_PUBLIC_URL" in _refusal(public_url="https://bots.example.com?x=1")
        assert "CHATORCH_PUBLIC_URL" in _refusal(public_url="https://bots.example.com#top")


class TestVectors:
    def test_defaults_are_offline(self) -> None:
        settings = _settings()
        assert (settings.vector_url, settings.embeddings) == (None, "wordllama")
        assert _settings(vector_url="").vector_url is None  # set empty: unset

    @pytest.mark.parametrize(
        "url", ["local:./data/vectors", "local:/var/lib/chatorch/vectors", "http://qdrant:6333"]
    )
    def test_a_folder_or_a_server(self, url: str) -> None:
        assert _settings(vector_url=url).vector_url == url

    @pytest.mark.parametrize("url", ["./data/vectors", "local:", "local://x/y", "qdrant:6333"])
    def test_anything_else_is_refused_naming_the_setting(self, url: str) -> None:
        assert f"CHATORCH_VECTOR_URL: {url!r}" in _refusal(vector_url=url)

    def test_an_unknown_embedder_is_refused_naming_the_setting(self) -> None:
        assert "CHATORCH_EMBEDDINGS: 'bert' names no embedder" in _refusal(embeddings="bert")
        assert _settings(embeddings="openai:text-embedding-3-small@512").embeddings
