"""GraphQL mutations: create / update (merge patch) / correct / retract for every fact kind, through
the one write service (db/writes.py), scope ``write``. Refusals the caller can fix come back in
the payload as typed ``userErrors`` (field path + code from the one catalogue, db/errors.py)."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from strawberry.types import Info

from db import writes
from db.errors import BadUserInput, Conflict, Forbidden, NewsfactsError, NotFound, Unauthenticated
from db.kinds import BY_NAME
from db.kinds import KINDS as FACT_KINDS
from db.pool import Conn
from schema.common import from_doc
from schema.context import Context
from schema.inputs import as_record, create_input, patch_input
from schema.kinds import class_for


@strawberry.type(description="Why a mutation was refused: the input field at fault and a catalogue code.")
class UserError:
    path: list[str] = strawberry.field(description="Path of the input field, e.g. [references, 0, quoteText].")
    code: str = strawberry.field(description="A code from the error catalogue, e.g. QUOTE_MISMATCH.")
    message: str


def _a(kind: str) -> str:
    return ("an " if kind[0] in "aeiou" else "a ") + kind


def _payload(kind: str, node: type) -> type:
    """``<Kind>Payload``: the fact written (as ``<kind>``) or the refusal's userErrors."""
    namespace = {
        "__annotations__": {kind: node | None, "user_errors": list[UserError]},
        kind: None,
        "user_errors": strawberry.field(default_factory=list),
        "__module__": __name__,
    }
    description = f"{_a(kind).capitalize()} mutation's result: the {kind}, or why the change was refused."
    return strawberry.type(type(f"{BY_NAME[kind].title}Payload", (), namespace), description=description)


def _kinds() -> dict[str, tuple[type, type]]:
    """Each kind's output type and payload type. A kind's module (schema/<plural>.py) registers its
    type as it is imported."""
    out: dict[str, tuple[type, type]] = {}
    for k in FACT_KINDS:
        importlib.import_module(f"schema.{k.plural}")
        out[k.name] = (class_for(k.name), _payload(k.name, class_for(k.name)))
    return out


KINDS = _kinds()


def _writer(info: Info[Context, None]) -> str:
    principal = info.context.principal
    if principal is None or principal.anonymous:
        raise Unauthenticated("mutations need an API key with the write scope")
    if not principal.allows("write"):
        raise Forbidden(f"mutations need the write scope; the key has {principal.scope}")
    return f"key:{principal.key_id}"


def _user_errors(exc: NewsfactsError, where: tuple[str | int, ...] = ()) -> list[UserError]:
    if exc.errors:
        # ``reason`` is an argument of its own, beside the input or patch the rest sits in.
        return [
            UserError(
                path=[str(p) for p in (*(() if e.path[:1] == ("reason",) else where), *e.path)],
                code=e.code,
                message=e.message,
            )
            for e in exc.errors
        ]
    return [UserError(path=[str(p) for p in where], code=exc.code, message=exc.detail)]


async def _run(
    info: Info[Context, None],
    kind: str,
    write: Callable[[Conn, str], Awaitable[dict[str, Any]]],
    where: tuple[str | int, ...],
    reason: str | None,
) -> Any:
    cls, payload = KINDS[kind]
    changed_by = _writer(info)
    if reason is not None and len(reason) > writes.MAX_REASON:
        message = f"must be at most {writes.MAX_REASON} characters"
        return payload(user_errors=[UserError(path=["reason"], code="TOO_LONG", message=message)])
    try:
        async with info.context.connection() as conn:
            doc = await write(conn, changed_by)
    except (BadUserInput, NotFound, Conflict) as exc:
        # VersionConflict is a Conflict: it names expectedVersion so the client knows to re-read.
        at = ("expectedVersion",) if exc.code == "VERSION_CONFLICT" else ("id",) if isinstance(exc, NotFound) else where
        return payload(user_errors=_user_errors(exc, at if not exc.errors else where))
    return payload(**{kind: from_doc(cls, doc)})


# Generated from the declarations (schema/inputs.py); the write service still validates everything
# the GraphQL types cannot say (lengths, formats, references, quotes), reported as userErrors.
CREATE_INPUTS = {kind: create_input(kind) for kind in KINDS}
PATCHES = {kind: patch_input(kind) for kind in KINDS}


def _create(kind: str) -> Any:
    async def resolver(info: Info[Context, None], input: Any, reason: str | None = None) -> Any:
        record = as_record(input)
        return await _run(
            info,
            kind,
            lambda conn, by: writes.create(conn, kind, record, changed_by=by, reason=reason),
            ("input",),
            reason,
        )

    resolver.__annotations__ = {
        "info": Info,
        "input": CREATE_INPUTS[kind],
        "reason": str | None,
        "return": KINDS[kind][1],
    }
    return strawberry.mutation(resolver=resolver, description=f"Create {_a(kind)} from its fields (as in REST).")


def _update(kind: str, *, correction: bool) -> Any:
    async def resolver(
        info: Info[Context, None],
        id: strawberry.ID,
        patch: Any,
        reason: str | None = None,
        expected_version: int | None = None,
    ) -> Any:
        changes = as_record(patch)
        return await _run(
            info,
            kind,
            lambda conn, by: writes.update(
                conn,
                kind,
                id,
                changes,
                changed_by=by,
                reason=reason,
                correction=correction,
                expected_version=expected_version,
            ),
            ("patch",),
            reason,
        )

    resolver.__annotations__ = {
        "info": Info,
        "id": strawberry.ID,
        "patch": PATCHES[kind],
        "reason": str if correction else str | None,
        "expected_version": int | None,
        "return": KINDS[kind][1],
    }
    if correction:
        resolver.__defaults__ = (None,)  # reason is required; expectedVersion stays optional
        doc = f"Correct {_a(kind)} (merge patch: null clears a field) and say why: emits {kind}.corrected."
    else:
        doc = (
            f"Update {_a(kind)} (merge patch: null clears a field, an absent one is kept): emits {kind}.updated. "
            "expectedVersion makes it conditional."
        )
    return strawberry.mutation(resolver=resolver, description=doc)


def _retract(kind: str) -> Any:
    async def resolver(
        info: Info[Context, None], id: strawberry.ID, reason: str | None = None, expected_version: int | None = None
    ) -> Any:
        return await _run(
            info,
            kind,
            lambda conn, by: writes.retract(
                conn, kind, id, changed_by=by, reason=reason, expected_version=expected_version
            ),
            (),
            reason,
        )

    resolver.__annotations__ = {
        "info": Info,
        "id": strawberry.ID,
        "reason": str | None,
        "expected_version": int | None,
        "return": KINDS[kind][1],
    }
    return strawberry.mutation(
        resolver=resolver, description=f"Retract {_a(kind)}: it stays readable with its history."
    )


def _fields() -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for kind in KINDS:  # → createActor, updateClaim, correctClaim, retractIncident, …
        fields[f"create_{kind}"] = _create(kind)
        fields[f"update_{kind}"] = _update(kind, correction=False)
        fields[f"correct_{kind}"] = _update(kind, correction=True)
        fields[f"retract_{kind}"] = _retract(kind)
    return fields


Mutation = strawberry.type(
    type("Mutation", (), _fields()),
    description="Write facts (scope write). Refusals are userErrors in each payload.",
)
