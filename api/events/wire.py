"""The Redis Stream entry of one event, written by the relay and read by every broadcaster: the
event as stored (``e``), how far the recall rules saw when the relay applied them (``a``) and, only
when it differs from the stored snapshot, the data a read-scope consumer gets (``p``). The public
form is computed once per event in PostgreSQL (db/events.py), not once per subscriber."""

from __future__ import annotations

import orjson
from redis.typing import EncodableT, FieldT

from db.events import Envelope


def encode(envelope: Envelope) -> dict[FieldT, EncodableT]:
    fields: dict[FieldT, EncodableT] = {"e": orjson.dumps(envelope.full), "a": b"%d" % envelope.as_of}
    if envelope.recalled:
        fields["p"] = orjson.dumps(envelope.public["data"])
    return fields


def decode(fields: dict[bytes, bytes]) -> Envelope | None:
    """The entry's Envelope; None for an entry without the rules' mark (written by a relay older than
    migration 0013, during a rolling upgrade): its public form must be read from PostgreSQL."""
    as_of = fields.get(b"a")
    if as_of is None:
        return None
    full = orjson.loads(fields[b"e"])
    public = fields.get(b"p")
    if public is None:
        return Envelope(full, full, False, int(as_of))
    return Envelope(full, {**full, "data": orjson.loads(public)}, True, int(as_of))
