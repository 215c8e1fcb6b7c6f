"""REST writes for every fact kind, through the one write service (db/writes.py), scope ``write``:

- ``POST /v1/{kind}s`` creates (201, Location, ETag);
- ``PATCH /v1/{kind}s/{id}`` applies a JSON merge patch (``?reason=`` optional) → ``*.updated``;
- ``POST /v1/{kind}s/{id}/corrections`` with ``{"changes": {…}, "reason": "…"}`` → ``*.corrected``;
- ``DELETE /v1/{kind}s/{id}`` retracts (``?reason=`` optional): 200 with the retracted document.

Every write honours ``Idempotency-Key`` (api/idempotency.py); item writes honour ``If-Match``."""

from __future__ import annotations

import re
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api import body, idempotency
from api.auth import authenticate, require
from api.rest import etags
from api.rest.resources import COLLECTIONS
from api.rest.responses import json_response
from api.state import get_state
from db import writes
from db.errors import (
    BadUserInput,
    FieldError,
    UnsupportedMediaType,
    ValidationFailed,
    VersionConflict,
)
from db.pool import Conn

JSON_TYPES = ("application/json", "application/merge-patch+json")
_QUOTED = re.compile(r'^"[^"]+"$')
WRITE_PARAMS = frozenset({"reason"})
CORRECTION_FIELDS = frozenset({"changes", "reason"})
MAX_REASON = writes.MAX_REASON

_COLLECTION_OF = {kind: collection for collection, kind in COLLECTIONS.items()}


def _fail(where: tuple[str | int, ...], code: str, message: str, *, cls: type[BadUserInput] = BadUserInput) -> None:
    raise cls(f"{'/'.join(map(str, where))}: {message}", errors=[FieldError(where, code, message)])


async def _body(request: Request, *, allowed: tuple[str, ...]) -> tuple[bytes, dict[str, Any]]:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in allowed:
        _fail(
            ("header", "Content-Type"),
            "UNSUPPORTED_MEDIA_TYPE",
            f"must be one of: {', '.join(allowed)}",
            cls=UnsupportedMediaType,
        )
    raw = await body.read(request, get_state(request).settings.max_body_bytes)
    return raw, body.parse_object(raw)


def _reason(request: Request) -> str | None:
    errors = []
    for name in request.query_params:
        if name not in WRITE_PARAMS:
            errors.append(FieldError(("query", name), "UNKNOWN_PARAMETER", "is not a parameter here (allowed: reason)"))
    reason = request.query_params.get("reason")
    if reason is not None and len(reason) > MAX_REASON:
        errors.append(FieldError(("query", "reason"), "TOO_LONG", f"must be at most {MAX_REASON} characters"))
    if errors:
        raise BadUserInput(f"invalid parameters: {', '.join(str(e.path[1]) for e in errors)}", errors=errors)
    return reason or None


def _expected_version(request: Request, fact_id: str) -> int | None:
    """The version If-Match pins (None when absent or ``*``); a tag of another fact fails the precondition."""
    header = request.headers.get("if-match")
    if header is None:
        return None
    tags = etags.if_match_tags(header)
    if "*" in tags:
        return None
    if not tags or not all(_QUOTED.match(t.removeprefix("W/")) for t in tags):
        # Malformed (empty, unquoted) is a bad request, not a failed precondition: 412 says the
        # tag was understood and names another version.
        raise BadUserInput(
            "If-Match must be '*' or entity tags such as \"<id>.v<version>\"",
            errors=[FieldError(("header", "If-Match"), "INVALID_VALUE", "must be '*' or quoted entity tags")],
        )
    for tag in tags:
        version = etags.version_of(tag)
        if version is not None and tag == etags.etag(fact_id, version):
            return version
    raise VersionConflict(f"If-Match {header} does not name a version of {fact_id}; send its current ETag")


async def _principal(request: Request) -> str:
    """The writer, once it may write; a malformed Idempotency-Key is refused here, before any
    other check (a bad request is a 400 whatever its preconditions would have said)."""
    principal = await authenticate(request)
    require(principal, "write", anonymous_reads=False)
    idempotency.key_of(request)
    return f"key:{principal.key_id}"


def _doc_response(kind: str, doc: dict[str, Any], *, status: int = 200) -> Response:
    headers = {"ETag": etags.etag_of(doc), "Cache-Control": "no-store"}
    if status == 201:
        headers["Location"] = f"/v1/{_COLLECTION_OF[kind]}/{doc['id']}"
    return json_response(doc, status=status, headers=headers)


async def create(request: Request, kind: str) -> Response:
    changed_by = await _principal(request)
    reason = _reason(request)
    raw, record = await _body(request, allowed=("application/json",))

    async def write(conn: Conn) -> Response:
        doc = await writes.create(conn, kind, record, changed_by=changed_by, reason=reason)
        return _doc_response(kind, doc, status=201)

    return await _run(request, changed_by, raw, write)


async def update(request: Request, kind: str) -> Response:
    changed_by = await _principal(request)
    fact_id = request.path_params["id"]
    reason = _reason(request)
    # A malformed request (400) is refused before its precondition is judged (412).
    raw, patch = await _body(request, allowed=JSON_TYPES)
    writes.check_patch(kind, patch)
    expected = _expected_version(request, fact_id)

    async def write(conn: Conn) -> Response:
        doc = await writes.update(
            conn, kind, fact_id, patch, changed_by=changed_by, reason=reason, expected_version=expected
        )
        return _doc_response(kind, doc)

    return await _run(request, changed_by, raw, write)


async def correct(request: Request, kind: str) -> Response:
    changed_by = await _principal(request)
    fact_id = request.path_params["id"]
    _reason(request)  # refuses unknown parameters; the reason travels in the body here
    raw, body = await _body(request, allowed=("application/json",))
    errors = [FieldError((k,), "UNKNOWN_FIELD", "is not a field here (allowed: changes, reason)") for k in body]
    errors = [e for e in errors if e.path[0] not in CORRECTION_FIELDS]
    if not isinstance(body.get("changes"), dict):
        errors.append(FieldError(("changes",), "REQUIRED", "must be an object (a JSON merge patch of the fact)"))
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        errors.append(FieldError(("reason",), "INVALID_TYPE", "must be a string saying why the fact is corrected"))
    elif reason is None or not reason.strip():
        errors.append(FieldError(("reason",), "REQUIRED", "must say why the fact is corrected"))
    elif len(reason) > MAX_REASON:
        errors.append(FieldError(("reason",), "TOO_LONG", f"must be at most {MAX_REASON} characters"))
    if errors:
        raise ValidationFailed(f"{len(errors)} invalid field(s) at {errors[0].pointer()}", errors=errors)
    writes.check_patch(kind, body["changes"], at=("changes",))
    expected = _expected_version(request, fact_id)

    async def write(conn: Conn) -> Response:
        try:
            doc = await writes.update(
                conn, kind, fact_id, body["changes"], changed_by=changed_by, reason=reason,
                correction=True, expected_version=expected,
            )  # fmt: skip
        except ValidationFailed as exc:
            # The fields are inside "changes" in this request's body: point there, in the detail too.
            moved = [FieldError(("changes", *e.path), e.code, e.message) for e in exc.errors]
            for before, after in zip(exc.errors, moved, strict=True):
                exc.detail = exc.detail.replace(f"at {before.pointer()}", f"at {after.pointer()}")
            exc.errors = moved
            raise
        return _doc_response(kind, doc)

    return await _run(request, changed_by, raw, write)


async def retract(request: Request, kind: str) -> Response:
    changed_by = await _principal(request)
    fact_id = request.path_params["id"]
    reason = _reason(request)
    expected = _expected_version(request, fact_id)

    async def write(conn: Conn) -> Response:
        doc = await writes.retract(conn, kind, fact_id, changed_by=changed_by, reason=reason, expected_version=expected)
        return _doc_response(kind, doc)

    return await _run(request, changed_by, b"", write)


async def _run(request: Request, principal: str, raw: bytes, write: idempotency.Write) -> Response:
    async with get_state(request).pool.acquire() as conn:
        return await idempotency.run_once(conn, request, principal=principal, body=raw, write=write)


def operations() -> list[tuple[str, str, Any]]:
    """(path, method, handler) for api.rest.routes(extra)."""
    ops: list[tuple[str, str, Any]] = []
    for collection, kind in COLLECTIONS.items():
        base = f"/v1/{collection}"
        ops += [
            (base, "POST", partial(create, kind=kind)),
            (base + "/{id}", "PATCH", partial(update, kind=kind)),
            (base + "/{id}", "DELETE", partial(retract, kind=kind)),
            (base + "/{id}/corrections", "POST", partial(correct, kind=kind)),
        ]
    return ops
