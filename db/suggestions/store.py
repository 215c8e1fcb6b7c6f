"""What suggesting reads from PostgreSQL: the article, the known actors its words could name (the
database joins the body's folded word runs against every name, alias, description and role title),
and the facts already citing it (to mark a suggestion that repeats one)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from db.pool import Conn
from db.suggestions.gazetteer import KnownActor
from db.suggestions.text import fold

# PostgreSQL's side of text.fold for the letters news copy uses (core PostgreSQL has no unaccent);
# a name with other accents still matches where the body writes it the same way.
_ACCENTED = "áàâäãåéèêëíìîïóòôöõúùûüñçýÿ’‘"
_PLAIN = "aaaaaaeeeeiiiiooooouuuuncyy''"
_FOLD_SQL = f"translate(lower({{x}}), '{_ACCENTED}', '{_PLAIN}')"
_MAX_WORDS = 6


@dataclass(frozen=True)
class Article:
    id: str
    body: str
    pub_status: str
    outlet: str | None
    retracted: bool


async def article(conn: Conn, article_id: str) -> Article | None:
    row = await conn.fetchrow(
        "SELECT id, body, pub_status, outlet_id, retracted_at IS NOT NULL AS retracted FROM articles WHERE id = $1",
        article_id,
    )
    if row is None:
        return None
    return Article(row["id"], row["body"], row["pub_status"], row["outlet_id"], row["retracted"])


def word_runs(body: str) -> list[str]:
    """Every run of one to six folded words of the body: what a known name could be."""
    tokens = [t.strip(".,;:!?()[]\"'") for t in fold(body).split()]
    runs: set[str] = set()
    _runs(tokens, runs)
    _runs([t.removesuffix("'s") for t in tokens], runs)  # "the Pentagon's envoy"
    return sorted(runs)


def _runs(tokens: list[str], runs: set[str]) -> None:
    for i in range(len(tokens)):
        for n in range(1, _MAX_WORDS + 1):
            run = tokens[i : i + n]
            if len(run) < n or not all(run):
                break
            runs.add(" ".join(run))
            if n > 1 and run[0] in ("the", "a", "an"):
                runs.add(" ".join(run[1:]))


async def known_actors(conn: Conn, body: str) -> list[KnownActor]:
    fold_name = _FOLD_SQL.format(x="n.phrase")
    # S608: the only text formatted in is the fixed translate() call above; the runs are a parameter.
    rows = await conn.fetch(
        f"""
        SELECT DISTINCT a.id, a.kind, a.name, a.aliases, a.description,
               ARRAY(SELECT r->>'title' FROM jsonb_array_elements(a.roles) r WHERE r->>'title' IS NOT NULL) AS titles
        FROM actors a
        CROSS JOIN LATERAL (
            SELECT a.name AS phrase
            UNION ALL SELECT unnest(a.aliases)
            UNION ALL SELECT regexp_replace(rtrim(a.description, '.'), '^(the|a|an) ', '', 'i')
            UNION ALL SELECT r->>'title' FROM jsonb_array_elements(a.roles) r
            UNION ALL SELECT regexp_replace(a.name, '^(the|a|an) ', '', 'i')
        ) n
        WHERE a.retracted_at IS NULL AND {fold_name} = ANY($1::text[])
        """,  # noqa: S608
        word_runs(body),
    )
    return [
        KnownActor(r["id"], r["kind"], r["name"], tuple(r["aliases"]), tuple(r["titles"]), r["description"])
        for r in rows
    ]


@dataclass(frozen=True)
class Existing:
    """A fact already citing the article: its id, the spans it cites, and the quantities it states
    (each with the spans cited for it)."""

    id: str
    kind: str
    spans: tuple[tuple[int, int], ...]
    quantities: tuple[tuple[dict[str, Any], tuple[tuple[int, int], ...]], ...] = ()


def _spans(refs: Any, article_id: str) -> tuple[tuple[int, int], ...]:
    return tuple((r["charStart"], r["charEnd"]) for r in refs or () if r.get("article") == article_id)


async def existing(conn: Conn, article_id: str) -> list[Existing]:
    rows = await conn.fetch(
        """
        SELECT 'claim' AS kind, id, refs, NULL::jsonb AS assets, NULL::jsonb AS counts FROM claims
         WHERE article_ids @> ARRAY[$1::text COLLATE "default"] AND retracted_at IS NULL
        UNION ALL
        SELECT 'deployment', id, refs, assets, NULL FROM deployments
         WHERE article_ids @> ARRAY[$1::text COLLATE "default"] AND retracted_at IS NULL
        UNION ALL
        SELECT 'incident', id, refs, NULL, jsonb_build_array(count, fatalities, injuries) FROM incidents
         WHERE article_ids @> ARRAY[$1::text COLLATE "default"] AND retracted_at IS NULL
        """,
        article_id,
    )
    out = []
    for row in rows:
        refs = _json(row["refs"])
        spans = _spans(refs, article_id)
        quantities: list[tuple[dict[str, Any], tuple[tuple[int, int], ...]]] = []
        for asset in _json(row["assets"]) or ():
            if asset.get("quantity"):
                quantities.append((asset["quantity"], _spans(asset.get("references"), article_id)))
        for count in _json(row["counts"]) or ():
            if count:
                quantities.append((count, spans))
        out.append(Existing(row["id"], row["kind"], spans, tuple(quantities)))
    return out


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value
