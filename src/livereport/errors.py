"""Every error livereport raises on purpose, with the HTTP status it maps to.

LivereportError                 base; .status, .message (what went wrong, what to do)
├── BadRequest (400)            a request that cannot be read as a whole
│   └── InvalidEvent            one event broke the contract; .errors lists each field
├── Unauthorized (401)          no credential, or one we do not know
├── Forbidden (403)             a known credential without the needed scope
├── NotFound (404)              unknown campaign, tab, widget … (never reveals other orgs)
├── PayloadTooLarge (413)
├── UnsupportedMediaType (415)
├── Overloaded (503)            ingest buffer full; .retry_after seconds
└── StorageUnavailable (503)    the engine failed or cannot be reached
"""

from __future__ import annotations


class LivereportError(Exception):
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(LivereportError):
    status = 400


class InvalidEvent(BadRequest):
    """An event that breaks the contract; each entry of ``errors`` reads "field: what is
    wrong", ``fields`` names those fields in the same order, and ``reason`` is why the event
    is dropped (ingest/pipeline.py ``DropReason``: invalid, unreadable or out_of_time)."""

    def __init__(
        self, errors: list[str], fields: list[str] | None = None, reason: str = "invalid"
    ) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors
        self.fields = fields if fields is not None else ["event"] * len(errors)
        self.reason = reason


class Unauthorized(LivereportError):
    status = 401


class Forbidden(LivereportError):
    status = 403


class NotFound(LivereportError):
    status = 404


class PayloadTooLarge(LivereportError):
    status = 413


class UnsupportedMediaType(LivereportError):
    status = 415


class Overloaded(LivereportError):
    status = 503

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StorageUnavailable(LivereportError):
    status = 503
    retry_after = 5


_NO_SPACE = ("no space left on device", "not enough space", "cannot reserve", "disk quota exceeded")
_READ_ONLY = ("read-only file system", "readonly database", "attempt to write a readonly")


def storage_failure(exc: BaseException) -> LivereportError:
    """What an ingest client is told when storing failed: a full or read-only disk is named
    as such (the client retries; reads go on), any other failure as the engine's error."""
    text = str(exc).strip()
    lowered = text.lower()
    if any(marker in lowered for marker in _NO_SPACE):
        return StorageUnavailable(
            "the disk of the data directory is full, so these events were not stored; reports "
            "still answer, and ingest resumes by itself once space is freed: retry later"
        )
    if any(marker in lowered for marker in _READ_ONLY):
        return StorageUnavailable(
            "the disk of the data directory is read-only, so these events were not stored; "
            "reports still answer, and ingest resumes by itself once it is writable: retry later"
        )
    if isinstance(exc, LivereportError):
        return exc
    return StorageUnavailable(f"storing the events failed: {text[:500] or type(exc).__name__}")
