"""The one catalogue of error codes. Every failure a caller can cause is a NewsfactsError subclass
with a stable ``code``; REST renders it as problem+json (api/problems.py), GraphQL as
``extensions.code`` (schema/errors.py). Codes are never reused for a different meaning."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg


@dataclass(frozen=True)
class FieldError:
    """One thing wrong with one input field. ``path`` locates it, e.g. ``("references", 0, "quoteText")``."""

    path: tuple[str | int, ...]
    code: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"path": list(self.path), "code": self.code, "message": self.message}

    def pointer(self) -> str:
        """RFC 6901 JSON pointer of the field, as used by problem+json ``errors[].pointer``."""
        return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in self.path)


class NewsfactsError(Exception):
    """Base of every error a client can cause. ``status`` is the HTTP status REST answers with."""

    code = "INTERNAL"
    status = 500
    title = "Internal error"

    def __init__(self, detail: str, *, errors: list[FieldError] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors: list[FieldError] = errors or []
        self.extra = extra


class BadUserInput(NewsfactsError):
    code = "BAD_USER_INPUT"
    status = 400
    title = "Invalid input"


class ValidationFailed(BadUserInput):
    """A write whose fields are wrong; ``errors`` names each bad field."""

    status = 422
    title = "Validation failed"


class PayloadTooLarge(BadUserInput):
    status = 413
    title = "Payload too large"


class NotFound(NewsfactsError):
    code = "NOT_FOUND"
    status = 404
    title = "Not found"


class Unauthenticated(NewsfactsError):
    code = "UNAUTHENTICATED"
    status = 401
    title = "Authentication required"


class Forbidden(NewsfactsError):
    code = "FORBIDDEN"
    status = 403
    title = "Forbidden"


class Conflict(NewsfactsError):
    """The write collides with existing state (a duplicate uri, an id that exists)."""

    code = "CONFLICT"
    status = 409
    title = "Conflict"


class VersionConflict(Conflict):
    """Optimistic concurrency: the caller's expected version is not the current one."""

    code = "VERSION_CONFLICT"
    status = 412
    title = "Precondition failed"


class UnsupportedMediaType(BadUserInput):
    code = "UNSUPPORTED_MEDIA_TYPE"
    status = 415
    title = "Unsupported media type"


class IdempotencyKeyReused(NewsfactsError):
    """An Idempotency-Key sent again with a different request than the one it first came with."""

    code = "IDEMPOTENCY_KEY_REUSED"
    status = 422
    title = "Idempotency key reused"


class CursorExpired(NewsfactsError):
    """An event cursor older than the retained log: the events after it were pruned."""

    code = "CURSOR_EXPIRED"
    status = 410
    title = "Cursor expired"


class QueryTooComplex(NewsfactsError):
    code = "QUERY_TOO_COMPLEX"
    status = 400
    title = "Query too complex"


class RateLimited(NewsfactsError):
    code = "RATE_LIMITED"
    status = 429
    title = "Too many requests"


class ServiceUnavailable(NewsfactsError):
    code = "UNAVAILABLE"
    status = 503
    title = "Service unavailable"


# SQLSTATE class → our error, for database errors no code path anticipated (PostgREST's table).
_SQLSTATE: dict[str, type[NewsfactsError]] = {
    "23505": Conflict,  # unique_violation
    "23503": ValidationFailed,  # foreign_key_violation
    "23514": ValidationFailed,  # check_violation
    "23502": ValidationFailed,  # not_null_violation
    "22P02": BadUserInput,  # invalid_text_representation
    "22001": PayloadTooLarge,  # string_data_right_truncation
    "22003": BadUserInput,  # numeric_value_out_of_range
    "22007": BadUserInput,  # invalid_datetime_format
    "22008": BadUserInput,  # datetime_field_overflow
    "40001": Conflict,  # serialization_failure
    "40P01": Conflict,  # deadlock_detected
    "57014": ServiceUnavailable,  # query_canceled (statement_timeout)
}

# Constraint name → (field path, human message). Names, never message text, identify a violation.
_CONSTRAINTS: dict[str, tuple[tuple[str | int, ...], str]] = {
    "articles_uri_key": (("uri",), "an article with this uri already exists"),
    "actors_pkey": (("id",), "an actor with this id already exists"),
    "articles_pkey": (("id",), "an article with this id already exists"),
    "claims_pkey": (("id",), "a claim with this id already exists"),
    "deployments_pkey": (("id",), "a deployment with this id already exists"),
    "incidents_pkey": (("id",), "an incident with this id already exists"),
}


def from_postgres(exc: asyncpg.PostgresError) -> NewsfactsError:
    """Translate a database error into the catalogue, by SQLSTATE and constraint name."""
    sqlstate = getattr(exc, "sqlstate", None) or ""
    cls = _SQLSTATE.get(sqlstate, NewsfactsError)
    constraint = getattr(exc, "constraint_name", None)
    if constraint and constraint in _CONSTRAINTS:
        path, message = _CONSTRAINTS[constraint]
        return cls(message, errors=[FieldError(path, cls.code, message)], constraint=constraint)
    if cls is NewsfactsError:
        return NewsfactsError("internal database error")
    detail = f"the database refused the write ({constraint or sqlstate})"
    return cls(detail, constraint=constraint)


@dataclass
class RecordRejection:
    """One record of a bulk load that was refused, and why."""

    index: int
    kind: str
    code: str
    message: str
    errors: list[FieldError] = field(default_factory=list)
    id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "kind": self.kind,
            "id": self.id,
            "code": self.code,
            "message": self.message,
            "errors": [e.as_dict() for e in self.errors],
        }
