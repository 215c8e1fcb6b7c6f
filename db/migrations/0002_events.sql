-- Live events: the relay's progress and leadership, and stored Idempotency-Key responses.

-- How far the relay has published the outbox to the Redis Stream. Kept in PostgreSQL (not Redis)
-- so that a Redis restart that loses the stream does not make the relay republish all history:
-- it resumes after this sequence, and readers fill any hole from the events table itself.
CREATE TABLE relay_state (
    singleton           boolean PRIMARY KEY DEFAULT true CONSTRAINT relay_state_singleton CHECK (singleton),
    published_sequence  bigint NOT NULL,
    published_at        timestamptz,
    leader              text,
    leader_since        timestamptz,
    -- The Redis Stream this database publishes to: unique per database, so several databases
    -- (test sessions, benchmarks, staging) can share one Redis without reading each other's events.
    stream              text NOT NULL DEFAULT 'newsfacts:events:' || md5(random()::text || clock_timestamp()::text)
);
-- Start at the current head: history is already in the events table for catch-up readers.
INSERT INTO relay_state (published_sequence) SELECT last FROM event_counter;

-- Stripe-style idempotency: the first response to (caller, key) is stored for 24 h and replayed.
-- Stored in the same transaction as the write it belongs to, so the fact and its key commit
-- together or not at all, and a concurrent retry waits on the primary key instead of racing.
CREATE TABLE idempotency_keys (
    principal    text COLLATE "C" NOT NULL,
    key          text COLLATE "C" NOT NULL,
    fingerprint  bytea NOT NULL,
    status       integer,
    headers      jsonb,
    body         bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);
