"""WordLlamaEmbedder: offline for real, and quiet about it.

What every embedder promises is the contract suite's: tests/contract/test_embeddings.py.
Each probe runs in a fresh interpreter, where the model is not loaded yet.
"""

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from chatorch.adapters.embeddings.wordllama import DIMENSION, WordLlamaEmbedder

NO_NETWORK = """
import socket

def refuse(*args, **kwargs):
    raise OSError("the network was used")

socket.socket.connect = refuse
socket.create_connection = refuse
"""
EMBED = """
import asyncio, logging
from chatorch.adapters.embeddings.wordllama import WordLlamaEmbedder

[vector] = asyncio.run(WordLlamaEmbedder().embed(["offline"]))
root = logging.getLogger()
print(len(vector), len(root.handlers), logging.getLevelName(root.level))
"""


def probe(code: str, home: Path) -> str:
    env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache")}
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )
    return done.stdout.strip()


def test_the_model_loads_and_embeds_with_no_network(tmp_path: Path) -> None:
    assert probe(NO_NETWORK + EMBED, tmp_path).split()[0] == str(DIMENSION)
    assert not (tmp_path / ".cache").exists()  # nothing downloaded, nothing cached


def test_loading_it_leaves_the_root_logger_as_it_was(tmp_path: Path) -> None:
    # wordllama's import calls logging.basicConfig(level=INFO): a handler and INFO.
    assert probe(EMBED, tmp_path) == f"{DIMENSION} 0 WARNING"


async def test_first_uses_at_once_share_one_model() -> None:
    one, two = WordLlamaEmbedder(), WordLlamaEmbedder()
    first, second = await asyncio.gather(one.embed(["same words"]), two.embed(["same words"]))
    assert first == second
    assert one.describe() == {"embedder": "wordllama:l2_supercat", "dimension": DIMENSION}
