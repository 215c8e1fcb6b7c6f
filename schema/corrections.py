"""The corrections feed as a GraphQL connection (``corrections``): every correction, retraction,
recall and sourcing change, newest first, with who, when, why and the diff — the same documents as
``GET /v1/corrections`` (db/corrections.py); the read planner plans it from the same clauses (schema/plan/fields.py)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from db import corrections
from db.kinds import CORRECTION_KINDS, LOAD_ORDER
from schema.common import (
    DIFF_DESCRIPTION,
    Connection,
    DateTime,
    FieldChange,
    connection,
    from_doc,
    from_docs,
    make_enum,
    page_size,
)
from schema.context import Context

FactKind = make_enum("FactKind", LOAD_ORDER, "A kind of fact.")
CorrectionKind = make_enum(
    "CorrectionKind",
    CORRECTION_KINDS,
    "A change the corrections feed carries: a correction, a retraction, an article's recall or"
    " release, a fact's sourcing following its articles.",
)


@strawberry.type(description="One correction, retraction, recall or sourcing change of a fact.")
class Correction:
    fact_id: strawberry.ID
    fact_type: FactKind  # type: ignore[valid-type]
    version: int = strawberry.field(description="The version of the fact this change made.")
    change_kind: CorrectionKind  # type: ignore[valid-type]
    reason: str | None
    changed_by: str | None
    changed_at: DateTime
    doc: strawberry.Private[dict[str, Any]]

    @strawberry.field(description=DIFF_DESCRIPTION)
    def diff(self) -> list[FieldChange]:
        return from_docs(FieldChange, self.doc["diff"])


def _values(members: list[Any] | None) -> tuple[str, ...]:
    """Enum arguments as their document strings, each once."""
    return tuple(dict.fromkeys(str(m.value) for m in members or ()))


@strawberry.type
class CorrectionQueries:
    @strawberry.field(
        description="The corrections feed: every correction, retraction, recall (withheld, canceled,"
        " released) and sourcing change, newest first; as GET /v1/corrections."
    )
    async def corrections(
        self,
        info: Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        kinds: list[FactKind] | None = None,  # type: ignore[valid-type]
        change_kinds: list[CorrectionKind] | None = None,  # type: ignore[valid-type]
        since: DateTime | None = None,
    ) -> Connection[Correction]:
        size = page_size(first, None)
        where = corrections.Filter(
            _values(kinds),
            _values(change_kinds),
            since,
        )
        position = corrections.decode(after, "after")
        ctx = info.context
        # Any fact's correction changes the feed: an answer is cached only until the next one.
        for kind in LOAD_ORDER:
            ctx.touch_list(kind)
        async with ctx.connection() as conn:
            docs, cursors, more = await corrections.page(
                conn, where, limit=size, after=position, public=ctx.lens.public
            )

        async def counter() -> int:
            async with ctx.connection() as conn:
                return await corrections.count(conn, where)

        nodes = [from_doc(Correction, d) for d in docs]
        return connection(nodes, cursors, has_next=more, has_previous=after is not None, counter=counter)
