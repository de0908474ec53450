"""Fixtures every channel's end-to-end tests share."""

from collections.abc import AsyncIterator

import pytest

from tests.fixtures.fake_openai import FakeOpenAI, fake_openai_server


@pytest.fixture
async def openai() -> AsyncIterator[FakeOpenAI]:
    """A model server that streams long answers slowly, for streaming and splitting."""
    async with fake_openai_server() as server:
        yield server
