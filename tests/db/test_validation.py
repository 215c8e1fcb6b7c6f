"""A refused write says exactly what is wrong (a FieldError path and code) and leaves nothing behind:
no fact, no revision, no event, no consumed event sequence."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from db import writes
from db.errors import FieldError, ValidationFailed
from db.fields import MAX_BODY
from db.pool import Conn
from tests.factories import make_article, make_claim, quote_ref

pytestmark = pytest.mark.anyio

Counts = Callable[[Conn], Coroutine[Any, Any, dict[str, int]]]
MISSING_ACTOR = "act_01JZZZZZZZZZZZZZZZZZZZZZZZ"


async def _refused(conn: Conn, counts: Counts, kind: str, record: dict[str, Any]) -> list[FieldError]:
    before = await counts(conn)
    with pytest.raises(ValidationFailed) as caught:
        await writes.create(conn, kind, record, changed_by="test")
    assert await counts(conn) == before
    assert caught.value.errors, "a validation failure must name the bad field"
    return caught.value.errors


def _codes(errors: list[FieldError]) -> set[tuple[tuple[str | int, ...], str]]:
    return {(e.path, e.code) for e in errors}


def _claim(article: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return {
        "statement": "The minister said they will not retreat.",
        "quoteType": "indirect",
        "references": [quote_ref(article, "We will not retreat")],
        **overrides,
    }


async def test_a_quote_text_that_differs_from_the_article_body_is_refused_naming_the_reference(
    conn: Conn, counts: Counts
) -> None:
    article = await make_article(conn)
    ref = quote_ref(article, "We will not retreat")
    good_ref = quote_ref(article, "the convoy")
    # Same length, different words: only the database comparison can catch it.
    wrong = {**ref, "quoteText": "We will not return!"}
    errors = await _refused(conn, counts, "claim", _claim(article, references=[good_ref, wrong]))
    assert _codes(errors) == {(("references", 1, "quoteText"), "QUOTE_MISMATCH")}
    assert "We will not retreat" in errors[0].message
    assert errors[0].pointer() == "/references/1/quoteText"


async def test_a_reference_past_the_end_of_the_body_is_refused(conn: Conn, counts: Counts) -> None:
    article = await make_article(conn)
    end = len(article["body"])
    past = {"article": article["id"], "charStart": end - 2, "charEnd": end + 3, "quoteText": "y.xyz"}
    errors = await _refused(conn, counts, "claim", _claim(article, references=[past]))
    assert _codes(errors) == {(("references", 0, "charEnd"), "OUT_OF_RANGE")}


async def test_a_reference_to_an_article_that_does_not_exist_is_refused(conn: Conn, counts: Counts) -> None:
    article = await make_article(conn)
    ref = {**quote_ref(article, "We will not retreat"), "article": "art_01JZZZZZZZZZZZZZZZZZZZZZZZ"}
    errors = await _refused(conn, counts, "claim", _claim(article, references=[ref]))
    assert _codes(errors) == {(("references", 0, "article"), "REF_NOT_FOUND")}


async def test_a_value_outside_an_enum_is_refused(conn: Conn, counts: Counts) -> None:
    article = await make_article(conn)
    errors = await _refused(conn, counts, "claim", _claim(article, quoteType="rumour"))
    assert _codes(errors) == {(("quoteType",), "INVALID_ENUM")}
    assert "direct" in errors[0].message


async def test_a_missing_required_field_is_refused(conn: Conn, counts: Counts) -> None:
    article = await make_article(conn)
    record = _claim(article)
    del record["statement"]
    errors = await _refused(conn, counts, "claim", record)
    assert _codes(errors) == {(("statement",), "REQUIRED")}


async def test_an_unknown_field_is_refused_not_dropped(conn: Conn, counts: Counts) -> None:
    article = await make_article(conn)
    errors = await _refused(conn, counts, "claim", _claim(article, confidence=0.9))
    assert _codes(errors) == {(("confidence",), "UNKNOWN_FIELD")}


async def test_an_oversize_article_body_is_refused(conn: Conn, counts: Counts) -> None:
    record = {"uri": "urn:test:oversize", "headline": "Too long", "body": "x" * (MAX_BODY + 1)}
    assert MAX_BODY == 500_000
    errors = await _refused(conn, counts, "article", record)
    assert _codes(errors) == {(("body",), "TOO_LONG")}
    # Exactly at the limit is fine: the boundary is the documented one.
    ok = await writes.create(conn, "article", {**record, "body": "x" * MAX_BODY}, changed_by="test")
    assert len(ok["body"]) == MAX_BODY


async def test_a_dangling_actor_id_is_refused(conn: Conn, counts: Counts) -> None:
    article = await make_article(conn)
    errors = await _refused(
        conn, counts, "claim", _claim(article, speaker=MISSING_ACTOR, subjects=["act_01K8B1E2G12Z4MP14DZVS18EHJ"])
    )
    assert _codes(errors) == {(("speaker",), "REF_NOT_FOUND")}
    # An id of the wrong kind is refused before the database is asked.
    errors = await _refused(conn, counts, "claim", _claim(article, speaker=article["id"]))
    assert _codes(errors) == {(("speaker",), "INVALID_ID")}


async def test_every_problem_of_a_record_is_reported_at_once(conn: Conn, counts: Counts) -> None:
    article = await make_article(conn)
    record = _claim(article, quoteType="rumour", colour="red", speaker=MISSING_ACTOR)
    del record["statement"]
    errors = await _refused(conn, counts, "claim", record)
    assert {(("quoteType",), "INVALID_ENUM"), (("colour",), "UNKNOWN_FIELD"), (("statement",), "REQUIRED")} <= _codes(
        errors
    )


async def test_one_bad_record_refuses_a_whole_create_many_and_names_its_index(conn: Conn, counts: Counts) -> None:
    article = await make_article(conn)
    before = await counts(conn)
    with pytest.raises(ValidationFailed) as caught:
        await writes.create_many(conn, "claim", [_claim(article), _claim(article, status="rumoured")], changed_by="t")
    assert _codes(caught.value.errors) == {((1, "status"), "INVALID_ENUM")}
    assert await counts(conn) == before


async def test_an_update_that_breaks_validation_changes_nothing(conn: Conn, counts: Counts) -> None:
    claim = await make_claim(conn)
    before = await counts(conn)
    with pytest.raises(ValidationFailed) as caught:
        await writes.update(conn, "claim", claim["id"], {"status": "rumoured"}, changed_by="test")
    assert _codes(caught.value.errors) == {(("status",), "INVALID_ENUM")}
    with pytest.raises(ValidationFailed) as caught:
        await writes.update(conn, "claim", claim["id"], {"version": 9}, changed_by="test")
    assert _codes(caught.value.errors) == {(("version",), "READ_ONLY")}
    assert await counts(conn) == before
    stored = await conn.fetchrow("SELECT status, version FROM claims WHERE id = $1", claim["id"])
    assert stored is not None and (stored["status"], stored["version"]) == ("reported", 1)


@pytest.mark.parametrize("given", ["act_ZZZZZZZZZZZZZZZZZZZZZZZZZZ", "act_80000000000000000000000000"])
async def test_an_explicit_id_past_128_bits_is_refused(conn: Conn, counts: Counts, given: str) -> None:
    """A ULID's first character is at most 7: past it the id no longer sorts by its time, and a
    list in id order would stop being a list in creation order for good."""
    errors = await _refused(conn, counts, "actor", {"id": given, "kind": "person", "name": "Out of order"})
    assert _codes(errors) == {(("id",), "INVALID_ID")}


async def test_a_role_that_ends_before_it_starts_is_refused(conn: Conn, counts: Counts) -> None:
    role = {"title": "Minister", "since": "2025-01-01", "until": "2020-01-01"}
    errors = await _refused(conn, counts, "actor", {"kind": "person", "name": "Backwards", "roles": [role]})
    assert _codes(errors) == {(("roles", 0, "until"), "INVALID_RANGE")}
