"""Files: the blob store named by CHATORCH_BLOB_URL and the ArtifactManager over it."""

from contextlib import AsyncExitStack

from chatorch.adapters.blobs.files import connect
from chatorch.ports.blobs import BlobStore
from chatorch.ports.store import Store
from chatorch.services.artifacts import ArtifactManager
from chatorch.services.retrieval import Retriever
from chatorch.settings import Settings
from chatorch.wiring.startup import StartupError


def build_blobs(settings: Settings, stack: AsyncExitStack) -> BlobStore:
    """The blob store; its folder is made on the first upload, not here."""
    try:
        blobs = connect(settings.blob_url)
    except ValueError as error:
        raise StartupError(f"CHATORCH_BLOB_URL: {error}") from None
    stack.push_async_callback(blobs.close)
    return blobs


def build_artifacts(
    settings: Settings, stack: AsyncExitStack, *, store: Store, retriever: Retriever
) -> ArtifactManager:
    blobs = build_blobs(settings, stack)
    return ArtifactManager(store, blobs, max_bytes=settings.max_file_bytes, retriever=retriever)
