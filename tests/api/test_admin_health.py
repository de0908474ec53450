"""GET /v1/admin/health: the backing services and every provider of the chain, for
operators and admins only, with the providers' probes shared for a few seconds."""

from pathlib import Path
from typing import Any

from chatorch.domain.entities import AccessRole
from chatorch.settings import Settings
from chatorch.wiring import store_only
from tests.api.conftest import serve, settings_for
from tests.conftest import remember
from tests.fixtures.fake_anthropic import fake_anthropic_server
from tests.fixtures.fake_openai import fake_openai_server

OPENAI_KEY = remember("sk-health-openai-key-123456")
WRONG_KEY = remember("sk-ant-the-wrong-one-98765")


async def _bearer(settings: Settings, user: str, role: AccessRole) -> dict[str, str]:
    async with store_only(settings) as auth:
        key, _ = await auth.create_key(user_name=user, role=role)
    return {"Authorization": f"Bearer {remember(key)}"}


def _by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {provider["name"]: provider for provider in report["providers"]}


class TestAdminHealth:
    async def test_an_admin_sees_services_and_each_provider_with_what_is_wrong(
        self, tmp_path: Path
    ) -> None:
        async with (
            fake_openai_server(api_key=OPENAI_KEY) as openai,
            fake_anthropic_server(api_key="sk-ant-right") as anthropic,
        ):
            settings = settings_for(
                tmp_path,
                auth_required=True,
                llm="openai:fake,anthropic:fake,builtin",
                openai_base_url=openai.url,
                openai_api_key=OPENAI_KEY,
                anthropic_base_url=anthropic.url,
                anthropic_api_key=WRONG_KEY,
            )
            admin = await _bearer(settings, "root", AccessRole.ADMIN)
            async with serve(settings) as client:
                answer = await client.get("/v1/admin/health", headers=admin)
        assert answer.status_code == 200, answer.text
        report = answer.json()
        assert report["status"] == "degraded"  # one provider down, the chain still answers
        assert report["services"]["store"]["ok"] is True
        assert report["services"]["bus"]["critical"] is True
        providers = _by_name(report)
        assert list(providers) == ["openai:fake", "anthropic:fake", "builtin"]  # chain order
        assert providers["openai:fake"]["ok"] is True
        assert providers["openai:fake"]["latency_ms"] >= 0
        assert providers["builtin"]["ok"] is True
        refused = providers["anthropic:fake"]
        assert refused["ok"] is False
        assert "HTTP 401" in refused["detail"]
        assert "invalid x-api-key" in refused["detail"]
        assert WRONG_KEY not in answer.text
        assert not openai.requests  # no tokens were spent
        assert not anthropic.requests

    async def test_no_provider_answering_makes_it_unavailable(
        self, tmp_path: Path, closed_port: int
    ) -> None:
        settings = settings_for(
            tmp_path, llm="openai:fake", openai_base_url=f"http://127.0.0.1:{closed_port}/v1"
        )
        async with serve(settings) as client:  # auth off: the local user is an admin
            report = (await client.get("/v1/admin/health")).json()
        assert report["status"] == "unavailable"
        [provider] = report["providers"]
        assert provider["ok"] is False
        assert f"cannot reach http://127.0.0.1:{closed_port}/v1/models" in provider["detail"]

    async def test_probes_are_shared_for_a_few_seconds(self, tmp_path: Path) -> None:
        async with fake_openai_server() as openai:
            settings = settings_for(tmp_path, llm="openai:fake", openai_base_url=openai.url)
            async with serve(settings) as client:
                first = (await client.get("/v1/admin/health")).json()
                again = (await client.get("/v1/admin/health")).json()
        assert first["status"] == "ok"
        assert again["providers_checked_at"] == first["providers_checked_at"]

    async def test_a_user_key_is_forbidden_and_no_key_is_unauthenticated(
        self, tmp_path: Path
    ) -> None:
        settings = settings_for(tmp_path, auth_required=True)
        user = await _bearer(settings, "ursula", AccessRole.USER)
        operator = await _bearer(settings, "olga", AccessRole.OPERATOR)
        async with serve(settings) as client:
            forbidden = await client.get("/v1/admin/health", headers=user)
            anonymous = await client.get("/v1/admin/health")
            allowed = await client.get("/v1/admin/health", headers=operator)
        assert forbidden.status_code == 403
        assert forbidden.headers["content-type"] == "application/problem+json"
        assert forbidden.json()["code"] == "forbidden"
        assert "operator" in forbidden.json()["detail"]
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"] == "application/problem+json"
        assert anonymous.json()["detail"]
        assert allowed.status_code == 200
        assert _by_name(allowed.json())["builtin"]["ok"] is True
