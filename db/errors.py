"""The one catalogue of error codes. Every failure a caller can cause is a NewsfactsError subclass
with a stable ``code``; REST renders it as problem+json (api/problems.py), GraphQL as
``extensions.code`` (schema/errors.py). Codes are never reused for a different meaning."""

from __future__ import annotations

import asyncio
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
    """A bug on our side (as itself, ``INTERNAL``): its details are shown only outside production.

    Base of every error a client can cause. ``status`` is the HTTP status REST answers with."""

    code = "INTERNAL"
    status = 500
    title = "Internal error"

    def __init__(self, detail: str, *, errors: list[FieldError] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors: list[FieldError] = errors or []
        self.extra = extra


class BadUserInput(NewsfactsError):
    """A bad parameter, argument, filter, cursor or document (400), named in ``errors``. Text with a
    NUL character, a date-time with a UTC offset beyond ±15:59 or outside 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z
    in UTC, or a value of the wrong JSON type for an enum are refused here too."""

    code = "BAD_USER_INPUT"
    status = 400
    title = "Invalid input"


class ValidationFailed(BadUserInput):
    """A write whose fields are wrong; ``errors`` names each bad field."""

    status = 422
    title = "Validation failed"


class PayloadTooLarge(BadUserInput):
    """The request body is over ``MAX_BODY_BYTES``."""

    code = "PAYLOAD_TOO_LARGE"
    status = 413
    title = "Payload too large"


class ArticleTooLarge(PayloadTooLarge):
    """An article whose body is longer than fact suggestion reads (db/suggestions/)."""

    code = "ARTICLE_TOO_LARGE"


class MalformedBody(BadUserInput):
    """A request body no transport can take apart (api/body.py): each reason has its own code, all 400."""

    code = "INVALID_JSON"
    title = "Malformed body"


class InvalidUtf8(MalformedBody):
    """The body (or a GraphQL GET parameter, or a WebSocket message) is not strict UTF-8; lone
    surrogates included."""

    code = "INVALID_UTF8"


class InvalidJson(MalformedBody):
    """The body is not JSON (a leading byte order mark included)."""

    code = "INVALID_JSON"


class IncompleteBody(MalformedBody):
    """The client closed the connection before the whole body arrived. Nobody reads the answer;
    it says what happened in the access log and the metrics, where it was counted a 500."""

    code = "INCOMPLETE_BODY"

    @classmethod
    def after(cls, received: int) -> IncompleteBody:
        """The refusal of a body cut off after ``received`` bytes."""
        detail = f"the client closed the connection after {received} bytes of the body"
        return cls(detail, errors=[FieldError(("body",), cls.code, detail)])


class NestingTooDeep(MalformedBody):
    """The body nests arrays or objects deeper than 64 levels."""

    code = "NESTING_TOO_DEEP"


class NumberTooLarge(MalformedBody):
    """The body has a number beyond ±2^63 (64-bit)."""

    code = "NUMBER_TOO_LARGE"


class BodyNotObject(MalformedBody):
    """The body's top level is not a JSON object."""

    code = "BODY_NOT_OBJECT"


class NotFound(NewsfactsError):
    """No such fact (or none at ``asOf``, or none the caller's scope may see), endpoint, key or
    delivery; a malformed id names nothing either."""

    code = "NOT_FOUND"
    status = 404
    title = "Not found"


class Unauthenticated(NewsfactsError):
    """No key where one is needed (anonymous reads off), or an unknown or revoked key."""

    code = "UNAUTHENTICATED"
    status = 401
    title = "Authentication required"


class Forbidden(NewsfactsError):
    """A key without the scope the operation needs (read < write < admin)."""

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


class UriTooLong(BadUserInput):
    """A GET whose query string is longer than a body may be (GraphQL over GET: send it with POST)."""

    code = "URI_TOO_LONG"
    status = 414
    title = "URI too long"


class UnsupportedMediaType(BadUserInput):
    """A body that is not ``application/json`` (or ``application/merge-patch+json`` for a PATCH),
    also when ``Content-Type`` is missing."""

    code = "UNSUPPORTED_MEDIA_TYPE"
    status = 415
    title = "Unsupported media type"


class MethodNotAllowed(NewsfactsError):
    """A method the path does not take (a GraphQL mutation over GET: ``Allow: POST``)."""

    code = "METHOD_NOT_ALLOWED"
    status = 405
    title = "Method not allowed"


class NotAcceptable(NewsfactsError):
    """``Accept`` names no representation the path has."""

    code = "NOT_ACCEPTABLE"
    status = 406
    title = "Not acceptable"


class HttpError(NewsfactsError):
    """An HTTP-level refusal with a status no other code covers (the router's, a middleware's)."""

    code = "HTTP_ERROR"
    status = 400
    title = "HTTP error"


class TooManySubscriptions(NewsfactsError):
    """One more GraphQL subscription than a WebSocket connection may run (SUBSCRIPTIONS_PER_CONNECTION)."""

    code = "TOO_MANY_SUBSCRIPTIONS"
    status = 429
    title = "Too many subscriptions"


class PersistedQueryNotFound(NewsfactsError):
    """An automatic persisted query's hash the server has not stored yet: the client resends the
    document. Answered as a GraphQL error with HTTP 200, as Apollo clients expect for the retry;
    as application/graphql-response+json, whose answers without data must be 4xx, with 404 (not
    400, which makes Apollo Client give up persisted queries for good)."""

    code = "PERSISTED_QUERY_NOT_FOUND"
    status = 200
    strict_status = 404
    title = "Persisted query not found"


class PersistedQueryNotAllowed(NewsfactsError):
    """A document outside the allow-list while GRAPHQL_PERSISTED_ONLY is on (HTTP 200 as above;
    403 as application/graphql-response+json)."""

    code = "PERSISTED_QUERY_NOT_ALLOWED"
    status = 200
    strict_status = 403
    title = "Persisted query not allowed"


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
    """A GraphQL document over a limit: depth, aliases, tokens or cost (``extensions.limit`` says which)."""

    code = "QUERY_TOO_COMPLEX"
    status = 400
    title = "Query too complex"


class RateLimited(NewsfactsError):
    """Past the caller's rate limit for the window; ``Retry-After`` says when to come back."""

    code = "RATE_LIMITED"
    status = 429
    title = "Too many requests"


# How long a client is asked to wait when the database is away: PostgreSQL restarts and failovers
# take seconds, and a short hint keeps well-behaved clients from hammering a recovering server.
UNAVAILABLE_RETRY_AFTER_SECONDS = 2


class Unavailable(NewsfactsError):
    """PostgreSQL is unreachable, refusing or closing connections, shutting down or starting
    (SQLSTATE 57P01/57P02/57P03, 53300, class 08), or timed out (57014, or no answer within
    ``DB_ACQUIRE_TIMEOUT_S`` / ``DB_STATEMENT_TIMEOUT_S``): answered with ``Retry-After``. Nothing was
    half-written (a write committed whole or not at all), so the same request may be retried, a write
    with its ``Idempotency-Key``. The cause is logged, never shown."""

    code = "UNAVAILABLE"
    status = 503
    title = "Service unavailable"

    def __init__(
        self,
        detail: str = "the database is unavailable; retry shortly",
        *,
        retry_after: int = UNAVAILABLE_RETRY_AFTER_SECONDS,
        **extra: Any,
    ) -> None:
        super().__init__(detail, retry_after=retry_after, **extra)
        self.retry_after = retry_after


# The name earlier modules import; one class, one code.
ServiceUnavailable = Unavailable


# Status → code for refusals that arrive as a bare HTTP status (Starlette's HTTPException, a
# framework's 4xx) rather than a NewsfactsError: every transport renders them with this one table.
# 400 is BAD_USER_INPUT, the catalogue's code for any malformed request, on REST and GraphQL alike
# (a separate BAD_REQUEST would be a second name for the same meaning); 422 likewise.
HTTP_CODES: dict[int, str] = {
    400: BadUserInput.code, 401: Unauthenticated.code, 403: Forbidden.code, 404: NotFound.code,
    405: MethodNotAllowed.code, 406: NotAcceptable.code, 409: Conflict.code, 410: CursorExpired.code,
    412: VersionConflict.code, 413: PayloadTooLarge.code, 414: UriTooLong.code, 415: UnsupportedMediaType.code,
    422: ValidationFailed.code, 429: RateLimited.code, 503: Unavailable.code,
}  # fmt: skip


def code_for_status(status: int) -> str:
    """The catalogue code of a bare HTTP status (HTTP_ERROR when no code covers it)."""
    return HTTP_CODES.get(status, HttpError.code)


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
    "22009": BadUserInput,  # invalid_time_zone_displacement_value
    "22021": BadUserInput,  # character_not_in_repertoire (a NUL that slipped past validation)
    "22P05": BadUserInput,  # untranslatable_character
    "54001": BadUserInput,  # statement_too_complex (input that makes a query too deep)
    "40001": Conflict,  # serialization_failure
    "40P01": Conflict,  # deadlock_detected
    "57014": Unavailable,  # query_canceled (statement_timeout)
    "57P01": Unavailable,  # admin_shutdown (fast or smart stop)
    "57P02": Unavailable,  # crash_shutdown
    "57P03": Unavailable,  # cannot_connect_now (starting up, shutting down, recovering)
    "53300": Unavailable,  # too_many_connections
    "53000": Unavailable,  # insufficient_resources
    "08000": Unavailable,  # connection_exception and its class 08 subclasses, below
    "08003": Unavailable,  # connection_does_not_exist
    "08006": Unavailable,  # connection_failure
    "08001": Unavailable,  # sqlclient_unable_to_establish_sqlconnection
    "08004": Unavailable,  # sqlserver_rejected_establishment_of_sqlconnection
}

# Raised by nf_bucket_limit (db/migrations/0014_analytics.sql).
TOO_MANY_BUCKETS_SQLSTATE = "NFA01"

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
    if sqlstate == TOO_MANY_BUCKETS_SQLSTATE:
        # A histogram whose data spans more buckets than allowed (nf_bucket_limit, 0014): its
        # message says how many and what to do; the parameter to change is the interval.
        message = str(getattr(exc, "message", None) or exc)
        return BadUserInput(message, errors=[FieldError(("interval",), "TOO_MANY_BUCKETS", message)])
    cls = _SQLSTATE.get(sqlstate, NewsfactsError)
    if cls is Unavailable or isinstance(exc, asyncpg.PostgresConnectionError):
        return Unavailable()
    constraint = getattr(exc, "constraint_name", None)
    if constraint and constraint in _CONSTRAINTS:
        return _violation(cls, constraint)
    if cls is NewsfactsError:
        return NewsfactsError("internal database error")
    detail = f"the database refused the write ({constraint or sqlstate})"
    return cls(detail, constraint=constraint)


def _violation(cls: type[NewsfactsError], constraint: str) -> NewsfactsError:
    path, message = _CONSTRAINTS[constraint]
    return cls(message, errors=[FieldError(path, cls.code, message)], constraint=constraint)


def unique_violation(constraint: str) -> NewsfactsError:
    """What ``from_postgres`` makes of a write colliding with the unique index ``constraint``, for
    a writer that finds the collision before it writes (the bulk loader)."""
    if constraint in _CONSTRAINTS:
        return _violation(Conflict, constraint)
    return Conflict(f"the database refused the write ({constraint})", constraint=constraint)


def from_database(exc: BaseException) -> NewsfactsError | None:
    """The catalogue error for anything the database layer raised, or None when ``exc`` is not
    from the database layer (a bug: the caller lets it become INTERNAL). One function for every
    transport, so an outage is UNAVAILABLE on REST, GraphQL, SSE and in the worker alike:

    - a NewsfactsError is itself;
    - asyncpg.PostgresError by SQLSTATE and constraint name (``from_postgres``): 57P01/57P02/57P03,
      53300, class 08 and 57014 (statement timeout) are UNAVAILABLE;
    - a connection closed under the query (asyncpg InterfaceError "connection is closed", the
      pool closing) is UNAVAILABLE;
    - a connection found mid-protocol after the server cut it (asyncpg InternalClientError
      "another operation is in progress") is UNAVAILABLE;
    - OSError — refused, reset, unreachable, a missing socket file — and TimeoutError (a pool
      acquire or connect timeout; asyncio.TimeoutError is the same class) are UNAVAILABLE.

    The message never carries the exception's text (it may name hosts and paths): callers log ``exc``."""
    if isinstance(exc, NewsfactsError):
        return exc
    if isinstance(exc, asyncpg.PostgresError):
        return from_postgres(exc)
    if isinstance(exc, asyncpg.InterfaceError):
        text = str(exc).lower()
        if "closed" in text or "closing" in text or "not connected" in text:
            return Unavailable()
        return None
    if isinstance(exc, asyncpg.InternalClientError) and "another operation" in str(exc):
        # A connection the server cut while it was still reporting an error (a shutdown
        # mid-query): the next use finds it mid-protocol. The query did not run; retrying will.
        return Unavailable()
    if isinstance(exc, OSError | asyncio.TimeoutError | ConnectionError):
        return Unavailable()
    return None


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
