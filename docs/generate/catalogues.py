"""The error catalogue (db/errors.py) and the event catalogue (db/kinds.py) as reference pages:
every code with its HTTP status, problem type and meaning; every event type with its meaning."""

from __future__ import annotations

import inspect

from api.problems import problem_type
from db.errors import HTTP_CODES, NewsfactsError
from db.ids import PREFIXES
from db.kinds import BY_NAME, CHANGE_MEANINGS, EVENT_TYPES
from docs.generate.markdown import banner, cell, code, table

ERRORS = "reference/errors.md"
EVENTS = "reference/events.md"
IDS = "reference/ids.md"


def _classes(cls: type[NewsfactsError]) -> list[type[NewsfactsError]]:
    """The catalogue in declaration order, each class before its subclasses."""
    return [cls, *(c for sub in cls.__subclasses__() for c in _classes(sub))]


def meaning(cls: type[NewsfactsError]) -> str:
    """What a class's own docstring says (its first paragraph); a subclass without one says nothing new."""
    doc = cls.__dict__.get("__doc__")
    if not doc:
        return ""
    return inspect.cleandoc(doc).split("\n\n")[0]


def undocumented() -> list[str]:
    """Codes whose classes all lack a docstring: the catalogue page could not say when they happen."""
    codes: dict[str, list[str]] = {}
    for cls in _classes(NewsfactsError):
        codes.setdefault(cls.code, []).append(meaning(cls))
    return [code for code, meanings in codes.items() if not any(meanings)]


def errors_page() -> str:
    missing = undocumented()
    if missing:
        raise ValueError(f"db/errors.py: give these codes' classes a docstring saying when they happen: {missing}")
    rows: dict[str, dict[str, list[str]]] = {}
    for cls in _classes(NewsfactsError):
        row = rows.setdefault(cls.code, {"status": [], "title": [], "when": []})
        status = str(cls.status)
        strict = getattr(cls, "strict_status", None)
        if strict:
            status += f" ({strict} as `application/graphql-response+json`)"
        for key, value in (("status", status), ("title", cls.title), ("when", meaning(cls))):
            if value and value not in row[key]:
                row[key].append(value)
    out = banner("db/errors.py") + "\n# Error catalogue\n\n"
    out += (
        "Every error a caller can cause has one stable code, the same on every transport: REST answers with "
        "RFC 9457 `application/problem+json` whose `code` is this code and whose `type` is the URI below "
        "([REST errors](../rest/errors.md)); GraphQL puts it in `extensions.code` "
        "([GraphQL errors](../graphql/limits.md#errors)); a WebSocket closes with 4400 naming it; "
        "`newsfacts load` names it for each rejected record. Codes are never reused for another meaning. "
        "Bad input also lists each bad field or parameter in `errors[]`, with a code of its own "
        "(`QUOTE_MISMATCH`, `UNKNOWN_PARAMETER`, …) and a message saying what is wrong.\n\n"
    )
    out += table(
        ["code", "HTTP status", "title", "problem `type`", "when"],
        [
            [code(c), " / ".join(r["status"]), " / ".join(r["title"]), code(problem_type(c)), cell(" ".join(r["when"]))]
            for c, r in rows.items()
        ],
    )
    out += "\n## Bare HTTP statuses\n\nA refusal that arrives as a bare HTTP status (the router's, a middleware's) is named by one table, on every transport:\n\n"
    out += table(["status", "code"], [[str(s), code(c)] for s, c in sorted(HTTP_CODES.items())])
    return out + "\nAny other status is `HTTP_ERROR`.\n"


def events_page() -> str:
    out = banner("db/kinds.py") + "\n# Event catalogue\n\n"
    out += (
        "Every committed write appends one event per fact it changed; its `type` is `<kind>.<change>`. The same "
        "types name SSE frames (`event: claim.corrected`), filter `/v1/events?type=` (a kind, such as `claim`, "
        "stands for all of its types), GraphQL's `events(types:)` (as `CLAIM_CORRECTED`) and webhook "
        "endpoints' `enabledEvents` (or `*`). The envelope is the [`Event`](rest/schemas.md#event) document; its "
        "`data` is the fact's document at `objectVersion`, shaped for the consumer's scope "
        "([the event log](../events/index.md)).\n\n"
    )
    rows = []
    for type_ in EVENT_TYPES:
        kind, change = type_.split(".")
        title = BY_NAME[kind].title
        rows.append([code(type_), code(type_.upper().replace(".", "_")), cell(CHANGE_MEANINGS[change]), code(title)])
    # The table is included by other pages (pymdownx.snippets section "types"), so it holds no
    # relative links: they would break on a page in another folder.
    out += "<!-- --8<-- [start:types] -->\n"
    out += table(["type", "GraphQL", "when", "`data`"], rows)
    out += "<!-- --8<-- [end:types] -->\n"
    kinds = ", ".join(f"[`{k.title}`](rest/schemas.md#{k.title.lower()})" for k in BY_NAME.values())
    out += f"\n{len(EVENT_TYPES)} types. `data` is the kind's document: {kinds}. Webhook endpoints also receive\n"
    return out + "`webhook.ping`, sent only by a ping request.\n"


def ids_page() -> str:
    out = banner("db/ids.py") + "\n# Id prefixes\n\n"
    out += (
        "Every public id is a three-letter prefix naming what it identifies, an underscore and a ULID (a 48-bit "
        "millisecond timestamp and 80 random bits in Crockford base32), so ids sort by creation time "
        "([Ids](../concepts/ids.md)).\n\n"
    )
    return out + table(
        ["prefix", "identifies"], [[code(f"{p}_"), kind.replace("_", " ")] for kind, p in PREFIXES.items()]
    )


def pages() -> dict[str, str]:
    return {ERRORS: errors_page(), EVENTS: events_page(), IDS: ids_page()}
