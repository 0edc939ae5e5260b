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
└── StorageUnavailable (503)    the engine failed or cannot be reached; .fault names a full
                                or read-only disk (DiskFault) when the error's code said so
"""

from __future__ import annotations

import errno
from enum import StrEnum


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


class DiskFault(StrEnum):
    """Why a disk refused a write, as the error's code (not its wording) says."""

    NO_SPACE = "no space"
    READ_ONLY = "read-only"


class StorageUnavailable(LivereportError):
    status = 503
    retry_after = 5

    def __init__(self, message: str, fault: DiskFault | None = None) -> None:
        super().__init__(message)
        self.fault = fault


_ERRNO_FAULTS = {
    errno.ENOSPC: DiskFault.NO_SPACE,
    errno.EDQUOT: DiskFault.NO_SPACE,
    errno.EROFS: DiskFault.READ_ONLY,
}


def fault_of_errno(number: int | None) -> DiskFault | None:
    """The disk fault of a system error number (ENOSPC, EDQUOT, EROFS), if it is one."""
    return _ERRNO_FAULTS.get(number) if number is not None else None


#: The wording of a full or read-only disk, read only from errors that carry no code.
_NO_SPACE = ("no space left on device", "not enough space", "cannot reserve", "disk quota exceeded")
_READ_ONLY = ("read-only file system", "readonly database", "attempt to write a readonly")


def fault_of_text(text: str) -> DiskFault | None:
    """The disk fault an error's message names. The fallback for errors without a code or
    an errno (the backends map theirs: store/base.py ``clickhouse_fault``, store/sqldb.py):
    a StorageUnavailable made from a message alone, an exception of a library that has none."""
    lowered = text.lower()
    if any(marker in lowered for marker in _NO_SPACE):
        return DiskFault.NO_SPACE
    if any(marker in lowered for marker in _READ_ONLY):
        return DiskFault.READ_ONLY
    return None


def disk_fault(exc: BaseException) -> DiskFault | None:
    """The disk fault behind a failure: the one a StorageUnavailable carries, an OSError's
    errno, else (no code to read) what its message names."""
    if isinstance(exc, StorageUnavailable) and exc.fault is not None:
        return exc.fault
    if isinstance(exc, OSError) and exc.errno is not None:
        return fault_of_errno(exc.errno)
    return fault_of_text(str(exc))


def storage_failure(exc: BaseException) -> LivereportError:
    """What an ingest client is told when storing failed: a full or read-only disk is named
    as such (the client retries; reads go on), any other failure as the engine's error."""
    fault = disk_fault(exc)
    if fault is DiskFault.NO_SPACE:
        return StorageUnavailable(
            "the disk of the data directory is full, so these events were not stored; reports "
            "still answer, and ingest resumes by itself once space is freed: retry later",
            fault,
        )
    if fault is DiskFault.READ_ONLY:
        return StorageUnavailable(
            "the disk of the data directory is read-only, so these events were not stored; "
            "reports still answer, and ingest resumes by itself once it is writable: retry later",
            fault,
        )
    if isinstance(exc, LivereportError):
        return exc
    text = str(exc).strip()
    return StorageUnavailable(f"storing the events failed: {text[:500] or type(exc).__name__}")
