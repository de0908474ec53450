"""One error hierarchy: each error knows its machine-readable code and HTTP status.

The API maps these once to RFC 9457 problems; adapters translate driver exceptions
into the ``*Unavailable`` kinds so callers never see a driver's exception type.
"""

from typing import ClassVar


class ChatorchError(Exception):
    code: ClassVar[str] = "internal"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(ChatorchError):
    code = "invalid_input"
    status = 422
    title = "Invalid input"


class ContentTooLarge(ChatorchError):
    code = "content_too_large"
    status = 413
    title = "Content too large"

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"content has {size} characters; the limit is {limit}")
        self.size = size
        self.limit = limit


class NotFound(ChatorchError):
    code = "not_found"
    status = 404
    title = "Not found"


class IdempotencyConflict(ChatorchError):
    code = "idempotency_key_reused"
    status = 409
    title = "Idempotency key reused"


class ServiceUnavailable(ChatorchError):
    """A backing service did not answer; the request may be retried later."""

    code = "service_unavailable"
    status = 503
    title = "Service unavailable"
    retry_after: ClassVar[int] = 2  # s


class StoreUnavailable(ServiceUnavailable):
    code = "store_unavailable"


class BusUnavailable(ServiceUnavailable):
    code = "bus_unavailable"


class LLMError(ChatorchError):
    """A model provider failed; ``retryable`` says whether trying again may help."""

    code = "llm_error"
    status = 502
    title = "Model provider failed"

    def __init__(
        self, detail: str, *, retryable: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(detail)
        self.retryable = retryable
        self.retry_after = retry_after  # s the provider asked us to wait (HTTP Retry-After)


class GenerationStalled(ChatorchError):
    code = "stalled"
    status = 504
    title = "Generation stalled"


class Superseded(ChatorchError):
    """An attempt at an answer that a later attempt has taken over: it may not store."""

    code = "superseded"
    status = 409
    title = "Superseded"


class DuplicateAnswer(ChatorchError):
    """A turn already holds a message of that role; the second write is refused."""

    code = "duplicate"
    status = 409
    title = "Already stored"


class DuplicateKey(ChatorchError):
    code = "duplicate_key"
    status = 409
    title = "Key already used"


class ToolFailed(ChatorchError):
    code = "tool_failed"
    status = 422
    title = "Tool failed"


class CacheUnavailable(ServiceUnavailable):
    code = "cache_unavailable"


class RegistryUnavailable(ServiceUnavailable):
    code = "registry_unavailable"


class VectorsUnavailable(ServiceUnavailable):
    """The vector index (Qdrant) could not be read or written."""

    code = "vectors_unavailable"


class EmbeddingsUnavailable(ServiceUnavailable):
    """The embedding model could not be loaded or did not answer."""

    code = "embeddings_unavailable"


class Unauthenticated(ChatorchError):
    """No valid credentials: a missing, malformed, expired or revoked key or token."""

    code = "unauthenticated"
    status = 401
    title = "Authentication required"


class Forbidden(ChatorchError):
    code = "forbidden"
    status = 403
    title = "Forbidden"


class RateLimited(ChatorchError):
    code = "rate_limited"
    status = 429
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: float) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after


class NotConfigured(ChatorchError):
    """The deployment lacks the setting this request needs; the detail names it."""

    code = "not_configured"
    status = 409
    title = "Not configured"


class FileTooLarge(ChatorchError):
    code = "file_too_large"
    status = 413
    title = "File too large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"the file is over the limit of {limit} bytes (CHATORCH_MAX_FILE_BYTES)")
        self.limit = limit


class UnsupportedFileType(ChatorchError):
    """A file of a type chatorch cannot read text from; the detail lists those it can."""

    code = "unsupported_file_type"
    status = 415
    title = "Unsupported file type"


class EmptyFile(InvalidInput):
    code = "empty_file"
    title = "Empty file"


class BlobNotFound(NotFound):
    """No bytes are stored under the key asked for."""

    code = "blob_not_found"


class BlobUnavailable(ServiceUnavailable):
    """The blob store could not be read or written (a full disk, a lost mount)."""

    code = "blob_unavailable"
