"""GraphQL errors from the one catalogue (db/errors.py): a NewsfactsError becomes
``extensions.code`` (+ ``extensions.errors`` naming each bad field); syntax and validation errors
are BAD_USER_INPUT; anything else is INTERNAL, its message masked in production. No error ever
carries a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError

from db.errors import NewsfactsError, from_database

log = logging.getLogger("newsfacts.graphql")


def _catalogue(cls: type[NewsfactsError]) -> set[str]:
    return {cls.code}.union(*(_catalogue(sub) for sub in cls.__subclasses__()))


# Every code a client can see: the one catalogue (db/errors.py), transport-specific codes included.
CODES = tuple(sorted(_catalogue(NewsfactsError)))
_TOKEN_LIMIT = "Document contains more than"


def classify(error: GraphQLError) -> tuple[str, str, dict[str, Any]]:
    """(code, client-facing message, extra extensions) of an error."""
    original = error.original_error
    if original is not None and not isinstance(original, NewsfactsError | GraphQLError):
        # An outage under a resolver is UNAVAILABLE, as on REST (the one translation).
        original = from_database(original) or original
    if isinstance(original, NewsfactsError):
        extra: dict[str, Any] = {}
        if original.errors:
            extra["errors"] = [e.as_dict() for e in original.errors]
        if original.code == "INTERNAL":
            return "INTERNAL", "internal error", {}
        return original.code, original.detail, extra
    if original is None or isinstance(original, GraphQLError):
        code = (error.extensions or {}).get("code")
        if isinstance(code, str):
            return code, error.message, {}
        if _TOKEN_LIMIT in error.message:
            return "QUERY_TOO_COMPLEX", error.message, {"limit": "tokens"}
        return "BAD_USER_INPUT", error.message, {}
    return "INTERNAL", f"{type(original).__name__}: {original}", {}


def format_error(error: GraphQLError, *, production: bool) -> dict[str, Any]:
    """The JSON of one error, with ``extensions.code`` always set."""
    code, message, extra = classify(error)
    if code == "INTERNAL" and production:
        message = "internal error"
    out: dict[str, Any] = {"message": message}
    if error.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        out["path"] = list(error.path)
    extensions = {k: v for k, v in (error.extensions or {}).items() if k not in ("exception", "stacktrace")}
    extensions.update(extra)
    extensions["code"] = code
    out["extensions"] = extensions
    return out


def log_errors(errors: list[GraphQLError]) -> None:
    """Log what the server got wrong (INTERNAL) with its traceback; client errors are not logged."""
    for error in errors:
        if classify(error)[0] == "INTERNAL":
            log.error("GraphQL resolver failed at %s", error.path, exc_info=error.original_error)


def error_body(code: str, message: str, *, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A whole response body for a request refused before execution (``errors``: what was wrong
    where, as ``extensions.errors`` of field errors)."""
    extensions: dict[str, Any] = {"errors": errors} if errors else {}
    extensions["code"] = code
    return {"errors": [{"message": message, "extensions": extensions}]}
