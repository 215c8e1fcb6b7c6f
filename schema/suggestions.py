"""GraphQL ``suggestFacts(article:)``: the candidate facts of db/suggestions/, typed. It is a
mutation although it stores nothing, as REST's POST is: it needs a write key (it prepares writes,
and costs CPU per call), a mutation is never kept by the response cache nor sent as a GET, and it
runs on the primary, so a fact accepted a moment ago is already marked ``existing`` (a replica
could lag behind the write). Refusals are userErrors in the payload, as every mutation's are."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from db import suggestions
from db.errors import BadUserInput, NotFound
from db.fields import Shape, shape_of
from db.kinds import BY_NAME
from db.registry import fact_type
from schema.actors import ActorKind
from schema.claims import QuoteType
from schema.common import Quantity, from_doc
from schema.context import Context
from schema.inputs import shared_enum
from schema.mutations import UserError, _user_errors, _writer


@strawberry.type(description="Words of the article a suggestion rests on (offsets in Unicode code points).")
class SuggestedReference:
    char_start: int
    char_end: int
    quote_text: str


@strawberry.type(
    description="Who a suggested claim is by: a known actor, a new name with its title, or an unnamed source."
)
class SuggestedSpeaker:
    actor: strawberry.ID | None = None
    name: str | None = None
    title: str | None = None
    description: str | None = None


# Nullable in every member of the union, so one selection can ask for them all (GraphQL refuses
# same-named fields of different nullability across a union's members).
_CREATE = "The input of create{Kind} for createKind, enums by name: pass it as the mutation's input variable."


@strawberry.type(description="A suggested claim: a direct quote or indirect speech, with its cue and speaker.")
class ClaimSuggestion:
    quote_type: QuoteType  # type: ignore[valid-type]
    quote: str | None
    statement: str
    cue: str | None
    speaker: SuggestedSpeaker | None
    references: list[SuggestedReference]
    confidence: float
    existing: strawberry.ID | None = strawberry.field(description="The article's claim this one repeats, if any.")
    create_kind: str | None
    create: JSON | None = strawberry.field(description=_CREATE)


@strawberry.type(description="A suggested quantity, normalised as a write normalises it.")
class QuantitySuggestion:
    quantity: Quantity
    references: list[SuggestedReference]
    confidence: float
    existing: strawberry.ID | None = strawberry.field(
        description="The deployment or incident of the article that already states it, if any."
    )
    create_kind: str | None = strawberry.field(description="claim, deployment or incident.")
    create: JSON | None = strawberry.field(description=_CREATE)


@strawberry.type(description="An actor named in the article: matched to the actors table, or new.")
class ActorSuggestion:
    name: str
    actor_kind: ActorKind  # type: ignore[valid-type]
    title: str | None
    match: strawberry.ID | None = strawberry.field(description="The known actor (by name, alias, accents aside).")
    references: list[SuggestedReference]
    confidence: float
    create_kind: str | None
    create: JSON | None = strawberry.field(description="createActor's input for a new actor; null when matched.")


Suggestion = Annotated[ClaimSuggestion | QuantitySuggestion | ActorSuggestion, strawberry.union("Suggestion")]


@strawberry.type(description="Candidate facts for an article's current body. Nothing is stored.")
class Suggestions:
    article: strawberry.ID
    engine: str
    reason: str | None = strawberry.field(description="Why there are none: an empty, withheld or retracted article.")
    suggestions: list[Suggestion]


@strawberry.type(description="suggestFacts's result: the suggestions, or why there are none.")
class SuggestFactsPayload:
    suggestions: Suggestions | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


def _enum_name(values: tuple[str, ...], owner: str, value: Any) -> Any:
    enum: type[Enum] = shared_enum(values, owner)
    return next((m.name for m in enum if m.value == value), value)


def _as_input(shape: Shape, owner: str, value: Any) -> Any:
    """A REST value as the GraphQL input variable of the same field (enums by name)."""
    if value is None:
        return None
    if shape.type == "enum":
        return _enum_name(shape.values, owner, value)
    if shape.type == "list" and shape.item is not None:
        return [_as_input(shape.item, owner, v) for v in value]
    if shape.type == "object":
        fields = {f.name: shape_of(f.validate) for f in shape.fields}
        return {k: _as_input(fields[k], shape.name, v) if k in fields else v for k, v in value.items()}
    return value


def as_input(kind: str, record: dict[str, Any]) -> dict[str, Any]:
    """A create body of REST as create{Kind}'s input, from the kind's one declaration."""
    owner = BY_NAME[kind].title
    fields = {f.name: shape_of(f.validate) for f in fact_type(kind).fields}
    return {k: _as_input(fields[k], owner, v) if k in fields else v for k, v in record.items()}


def _refs(doc: dict[str, Any]) -> list[SuggestedReference]:
    return [
        SuggestedReference(char_start=r["charStart"], char_end=r["charEnd"], quote_text=r["quoteText"])
        for r in doc["references"]
    ]


def _create(doc: dict[str, Any]) -> Any:
    return as_input(doc["createKind"], doc["create"]) if doc.get("create") else None


def _typed(doc: dict[str, Any]) -> Any:
    if doc["kind"] == "claim":
        speaker = SuggestedSpeaker(**doc["speaker"]) if doc["speaker"] else None
        return ClaimSuggestion(
            quote_type=QuoteType(doc["quoteType"]),
            quote=doc["quote"],
            statement=doc["statement"],
            cue=doc["cue"],
            speaker=speaker,
            references=_refs(doc),
            confidence=doc["confidence"],
            existing=doc["existing"],
            create_kind=doc["createKind"],
            create=_create(doc),
        )
    if doc["kind"] == "quantity":
        return QuantitySuggestion(
            quantity=from_doc(Quantity, doc["quantity"]),
            references=_refs(doc),
            confidence=doc["confidence"],
            existing=doc["existing"],
            create_kind=doc["createKind"],
            create=_create(doc),
        )
    return ActorSuggestion(
        name=doc["name"],
        actor_kind=ActorKind(doc["actorKind"]),
        title=doc["title"],
        match=doc["match"],
        references=_refs(doc),
        confidence=doc["confidence"],
        create_kind=doc["createKind"],
        create=_create(doc),
    )


@strawberry.type
class SuggestionMutations:
    @strawberry.mutation(
        description=(
            "Candidate claims, quantities and actors for an article's current body, each with the input "
            "that creates it (scope write). Stores nothing."
        )
    )
    async def suggest_facts(self, info: Info[Context, None], article: strawberry.ID) -> SuggestFactsPayload:
        _writer(info)
        try:
            async with info.context.connection() as conn:
                doc = await suggestions.suggest(conn, str(article))
        except (BadUserInput, NotFound) as exc:
            return SuggestFactsPayload(user_errors=_user_errors(exc, ("article",)))
        return SuggestFactsPayload(
            suggestions=Suggestions(
                article=doc["article"],
                engine=doc["engine"],
                reason=doc["reason"],
                suggestions=[_typed(d) for d in doc["suggestions"]],
            )
        )
