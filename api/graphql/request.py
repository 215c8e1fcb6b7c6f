"""A GraphQL-over-HTTP request taken apart, as https://graphql.github.io/graphql-over-http/draft/
says: the response's media type negotiated from Accept, then a POST's Content-Type and JSON body
or a GET's query string turned into one ``GraphQLParams``, each parameter of its type. JSON is
decoded by db/json_input.py, as every other decoder's; each refusal is a catalogue error naming
what was wrong where. Nothing here runs anything."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.types import Scope

from db.errors import BadUserInput, FieldError, InvalidUtf8, NewsfactsError, UnsupportedMediaType, UriTooLong
from db.json_input import decode, json_type, refuse

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"
# What the request's layers leave for the ones inside (the endpoint, the cache, the view).
PARAMS_KEY = "newsfacts.graphql.params"
MEDIA_KEY = "newsfacts.graphql.media"
PARAMETERS = ("query", "variables", "operationName", "extensions")
_TYPES: dict[str, type] = {"query": str, "variables": dict, "operationName": str, "extensions": dict}


@dataclass(frozen=True, slots=True)
class GraphQLParams:
    """The four parameters, of their types. ``query`` is the document to run: a persisted
    query's hash is resolved into it once, in front of everything (``resolved``)."""

    query: str | None
    variables: dict[str, Any] | None = None
    operation_name: str | None = None
    extensions: dict[str, Any] | None = None
    resolved: bool = False


def params_of(scope: Scope) -> GraphQLParams:
    """The request's parameters (api/graphql/over_http.py puts them in every /graphql scope)."""
    params: GraphQLParams = scope[PARAMS_KEY]
    return params


def media_of(scope: Scope) -> str:
    """The media type the answer is sent as (application/json unless negotiated otherwise)."""
    media: str = scope.get(MEDIA_KEY, JSON)
    return media


def negotiate(scope: Scope) -> str:
    """application/graphql-response+json when Accept prefers it to application/json, naming it
    (a tie goes to it, the spec's own type); else application/json — for no Accept, ``*/*`` and
    ``application/*`` too, as the spec asks during its watershed, and for an Accept that names
    neither: the spec lets a server disregard it rather than answer 406."""
    for name, value in scope["headers"]:
        if name == b"accept":
            return _preferred(value)
    return JSON


@lru_cache(maxsize=256)
def _preferred(accept: bytes) -> str:
    best: dict[str, tuple[float, int]] = {}  # media → (q, specificity) of the most specific range
    for part in accept.decode("latin-1").split(","):
        media, *options = (p.strip() for p in part.split(";"))
        media = media.lower()
        q = 1.0
        for option in options:
            key, _, raw = option.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(raw)
                except ValueError:
                    q = 0.0
        for candidate in (GRAPHQL_RESPONSE, JSON):
            specificity = 2 if media == candidate else 1 if media == "application/*" else 0 if media == "*/*" else -1
            if specificity >= 0 and specificity > best.get(candidate, (0.0, -1))[1]:
                best[candidate] = (q, specificity)
    strict_q, strict_specificity = best.get(GRAPHQL_RESPONSE, (0.0, -1))
    json_q = best.get(JSON, (0.0, -1))[0]
    if strict_specificity == 2 and strict_q > 0 and strict_q >= json_q:
        return GRAPHQL_RESPONSE
    return JSON


def check_content_type(scope: Scope) -> None:
    """A POST's body must be application/json (UTF-8): anything else, or none, is a 415 — the
    body is never handed on unparsed."""
    given = None
    for name, value in scope["headers"]:
        if name == b"content-type":
            if value == b"application/json":
                return  # what nearly every client sends
            given = value.decode("latin-1")
            break
    where = ("header", "Content-Type")
    if given is None:
        message = "is required: send the body as application/json"
        raise UnsupportedMediaType(f"Content-Type {message}", errors=[FieldError(where, "REQUIRED", message)])
    media, *options = (p.strip() for p in given.split(";"))
    charset = next((o.partition("=")[2].strip('" ').lower() for o in options if o.lower().startswith("charset")), None)
    if media.lower() != JSON or charset not in (None, "utf-8", "utf8"):
        message = f"must be application/json (UTF-8), not {given[:100]}"
        raise UnsupportedMediaType(
            f"Content-Type {message}", errors=[FieldError(where, "UNSUPPORTED_MEDIA_TYPE", message)]
        )


def from_body(payload: dict[str, Any]) -> GraphQLParams:
    """The parameters of a POST's JSON object (other members are ignored, as clients send some)."""
    return _typed({k: payload.get(k) for k in PARAMETERS}, "body")


def from_query_string(raw: bytes, limit: int) -> GraphQLParams:
    """The parameters of a GET: ``variables`` and ``extensions`` as URL-encoded JSON. Another
    parameter, or one given twice, is refused (as REST's are): a misspelt ``variable`` would
    otherwise be silently left out."""
    if len(raw) > limit:
        message = f"is longer than {limit} bytes; send the request with POST"
        raise UriTooLong(f"the query string {message}", errors=[FieldError(("query",), UriTooLong.code, message)])
    values: dict[str, Any] = {}
    errors: list[FieldError] = []
    for raw_name, raw_value in query_pairs(raw):
        name = _text(raw_name, ("query",))
        where = ("query", name)
        if name not in PARAMETERS:
            hint = ", ".join(PARAMETERS)
            errors.append(FieldError(where, "UNKNOWN_PARAMETER", f"is not a parameter here (allowed: {hint})"))
        elif name in values:
            errors.append(FieldError(where, "REPEATED_PARAMETER", "is given more than once"))
        else:
            value = _text(raw_value, where)
            if name in ("variables", "extensions"):
                values[name] = decode(value, subject=f"the {name} parameter", path=where) if value else None
            else:
                values[name] = value or None
    if errors:
        raise _invalid(errors)
    return _typed(values, "query")


def query_pairs(raw: bytes) -> list[tuple[bytes, bytes]]:
    """The query string's name/value pairs as bytes, percent-decoded (urllib's parse_qsl decodes to
    text with errors="replace", or fails on bytes it decoded itself): each is decoded strictly later."""
    pairs = []
    for part in raw.split(b"&"):
        if part:
            name, _, value = part.partition(b"=")
            pairs.append((unquote_to_bytes(name.replace(b"+", b" ")), unquote_to_bytes(value.replace(b"+", b" "))))
    return pairs


def _text(raw: bytes, where: tuple[str, ...]) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise refuse(
            InvalidUtf8, f"is not valid UTF-8 (byte {exc.start})", subject="the parameter", path=where
        ) from None


def _typed(values: dict[str, Any], location: str) -> GraphQLParams:
    errors = []
    for name, kind in _TYPES.items():
        value = values.get(name)
        if value is not None and not isinstance(value, kind):
            expected = "a string" if kind is str else "an object"
            message = f"must be {expected} or null, not {json_type(value)}"
            errors.append(FieldError((location, name), "INVALID_TYPE", message))
    extensions = values.get("extensions")
    persisted = isinstance(extensions, dict) and "persistedQuery" in extensions
    if values.get("query") is None and not persisted:
        message = "is required: the GraphQL document to run (or extensions.persistedQuery's hash)"
        errors.append(FieldError((location, "query"), "REQUIRED", message))
    if errors:
        raise _invalid(errors)
    return GraphQLParams(values.get("query"), values.get("variables"), values.get("operationName"), extensions)


def _invalid(errors: list[FieldError]) -> NewsfactsError:
    names = ", ".join(str(e.path[-1]) for e in errors)
    return BadUserInput(f"invalid GraphQL request parameters: {names}", errors=errors)
