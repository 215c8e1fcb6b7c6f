"""What a claim may lease, through the queue's churn: each object's events one at a time in sequence
order per endpoint, nothing of a disabled or deleted endpoint, and the same after deleted
deliveries and a backlog laid down out of due order (the claim's filters were rewritten so their
estimates cannot flip its plan; the rows they let through must not change)."""

from __future__ import annotations

from collections import defaultdict

import pytest

from db import webhooks, writes
from db.pool import Conn
from db.secrets import SecretBox

pytestmark = pytest.mark.anyio

SECRET = "whsec_" + "A" * 43 + "="
OBJECTS = 4
UPDATES = 3  # each object: created, then 3 updates: 4 events in sequence order


async def _endpoint(conn: Conn, box: SecretBox, n: int) -> str:
    row = await webhooks.create_endpoint(
        conn, box, url=f"https://example.com/hook/{n}", description=None, enabled_events=["*"], secret=SECRET,
        created_by="test",
    )  # fmt: skip
    return str(row["id"])


async def _claim_all(conn: Conn, box: SecretBox) -> list[webhooks.Claimed]:
    return await webhooks.claim(
        conn, box, worker="test-worker", limit=64, lease_seconds=30, in_flight={}, per_endpoint=64
    )


async def test_claims_lease_each_objects_events_in_order_after_deletions(migrated_conn: Conn) -> None:
    box = SecretBox.parse(SecretBox.new_key_spec("test"))
    kept, disabled, deleted = [await _endpoint(migrated_conn, box, n) for n in range(3)]
    objects = [str((await writes.create(migrated_conn, "actor", {"kind": "person", "name": f"P{i}"}, changed_by="t"))["id"])
               for i in range(OBJECTS)]  # fmt: skip
    for round_ in range(UPDATES):
        for object_id in objects:
            await writes.update(migrated_conn, "actor", object_id, {"name": f"P {round_}"}, changed_by="t")
    while await webhooks.dispatch(migrated_conn):
        pass
    # Churn: an endpoint deleted with its deliveries, one disabled, and the first object's first
    # delivery to the kept endpoint deleted (its next event becomes that object's head). Then the
    # survivors rewritten in random physical order, as rows land in a churned table's free space.
    await migrated_conn.execute("DELETE FROM webhook_endpoints WHERE id = $1", deleted)
    await migrated_conn.execute("UPDATE webhook_endpoints SET status = 'disabled' WHERE id = $1", disabled)
    gone = await migrated_conn.fetchval(
        """DELETE FROM webhook_deliveries WHERE id = (
               SELECT id FROM webhook_deliveries WHERE endpoint_id = $1 AND object_id = $2 ORDER BY sequence LIMIT 1)
           RETURNING sequence""",
        kept,
        objects[0],
    )
    await migrated_conn.execute(
        """WITH moved AS (DELETE FROM webhook_deliveries RETURNING *)
           INSERT INTO webhook_deliveries SELECT * FROM moved ORDER BY random()"""
    )
    await migrated_conn.execute("ANALYZE webhook_deliveries")
    queued = {
        (r["object_id"], r["sequence"])
        for r in await migrated_conn.fetch(
            "SELECT object_id, sequence FROM webhook_deliveries WHERE endpoint_id = $1", kept
        )
    }
    assert len(queued) == OBJECTS * (1 + UPDATES) - 1

    order: dict[str, list[int]] = defaultdict(list)
    while claimed := await _claim_all(migrated_conn, box):
        assert {c.endpoint_id for c in claimed} == {kept}, "nothing of a disabled or deleted endpoint"
        heads = [c.object_id for c in claimed]
        assert len(heads) == len(set(heads)), "one event per object at a time"
        for c in claimed:
            assert c.object_id is not None and c.sequence is not None
            order[c.object_id].append(c.sequence)
        outcome = webhooks.Outcome(True, 204, 1, None, None, None)
        recorded = await webhooks.record_many(
            migrated_conn, [(c, outcome) for c in claimed], worker="test-worker", disable_after_seconds=3600
        )
        assert recorded.ours == {c.id for c in claimed}

    assert {(o, s) for o, seqs in order.items() for s in seqs} == queued, "every queued delivery, once"
    for object_id, sequences in order.items():
        assert sequences == sorted(sequences), f"{object_id} out of order: {sequences}"
    assert gone not in order[objects[0]]
    assert await migrated_conn.fetchval(
        "SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = $1 AND status = 'pending'", disabled
    ) == OBJECTS * (1 + UPDATES)
