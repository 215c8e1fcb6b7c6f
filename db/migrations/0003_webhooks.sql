-- Webhooks: endpoints, a PostgreSQL delivery queue fanned out from the outbox, and every attempt.
--
-- Design notes (why, not what):
-- * The events table stays the source of truth. One dispatcher at a time (the webhook_cursor row
--   lock, taken with SKIP LOCKED by whichever worker gets there first) turns events after the cursor
--   into one webhook_deliveries row per matching endpoint and moves the cursor in the same
--   transaction, so each event is fanned out exactly once however many workers run.
-- * Delivery workers claim due rows with FOR UPDATE SKIP LOCKED and lease them (locked_until): a
--   crashed worker's delivery becomes due again when the lease ends; nothing is lost.
-- * A delivery is not attempted while an earlier-sequence delivery of the same object to the same
--   endpoint is still pending: receivers see each object's events in sequence order.
-- * Signing secrets must be usable for HMAC, so they are stored as given (not hashed); previous
--   secrets stay valid until their expiry during a rotation.

-- A prefixed ULID-style id made in SQL, so replays can insert many deliveries in one statement.
CREATE FUNCTION newsfacts_new_id(prefix text) RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    alphabet constant text := '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
    ms bigint := floor(extract(epoch FROM clock_timestamp()) * 1000);
    out text := '';
BEGIN
    FOR i IN 1..10 LOOP
        out := substr(alphabet, (ms % 32)::int + 1, 1) || out;
        ms := ms / 32;
    END LOOP;
    FOR i IN 1..16 LOOP
        out := out || substr(alphabet, floor(random() * 32)::int + 1, 1);
    END LOOP;
    RETURN prefix || '_' || out;
END
$$;

CREATE TABLE webhook_endpoints (
    id                 text COLLATE "C" PRIMARY KEY CONSTRAINT webhook_endpoints_id_format CHECK (id ~ '^whe_[0-9A-HJKMNP-TV-Z]{26}$'),
    url                text NOT NULL CONSTRAINT webhook_endpoints_url_check CHECK (length(url) BETWEEN 1 AND 2048),
    description        text CONSTRAINT webhook_endpoints_description_check CHECK (length(description) <= 1000),
    enabled_events     text[] NOT NULL CONSTRAINT webhook_endpoints_enabled_events_check CHECK (cardinality(enabled_events) >= 1),
    status             text NOT NULL DEFAULT 'enabled' CONSTRAINT webhook_endpoints_status_check CHECK (status IN ('enabled', 'disabled')),
    disabled_reason    text,
    disabled_at        timestamptz,
    secret             text NOT NULL,
    -- [{"secret": "whsec_…", "expiresAt": "…"}]: still signed with until they expire.
    previous_secrets   jsonb NOT NULL DEFAULT '[]',
    -- Events with a sequence above this are delivered; earlier ones only through a replay.
    created_sequence   bigint NOT NULL,
    failing_since      timestamptz,
    last_success_at    timestamptz,
    last_failure_at    timestamptz,
    created_by         text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_cursor (
    singleton      boolean PRIMARY KEY DEFAULT true CONSTRAINT webhook_cursor_singleton CHECK (singleton),
    last_sequence  bigint NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
INSERT INTO webhook_cursor (last_sequence) SELECT last FROM event_counter;

CREATE TABLE webhook_deliveries (
    id               text COLLATE "C" PRIMARY KEY,
    endpoint_id      text COLLATE "C" NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    -- NULL for a ping; the event row is read at send time (the message is not copied per endpoint).
    event_id         text COLLATE "C",
    sequence         bigint,
    object_id        text COLLATE "C",
    type             text NOT NULL,
    payload          jsonb,
    reason           text NOT NULL DEFAULT 'event' CONSTRAINT webhook_deliveries_reason_check CHECK (reason IN ('event', 'replay', 'ping')),
    status           text NOT NULL DEFAULT 'pending' CONSTRAINT webhook_deliveries_status_check CHECK (status IN ('pending', 'delivered', 'failed')),
    attempt_count    integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    locked_until     timestamptz,
    locked_by        text,
    last_status_code integer,
    last_error       text,
    delivered_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_object_idx ON webhook_deliveries (endpoint_id, object_id, sequence) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id);

CREATE TABLE webhook_attempts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id     text COLLATE "C" NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    endpoint_id     text COLLATE "C" NOT NULL,
    attempted_at    timestamptz NOT NULL DEFAULT now(),
    outcome         text NOT NULL CONSTRAINT webhook_attempts_outcome_check CHECK (outcome IN ('succeeded', 'failed')),
    response_status integer,
    duration_ms     integer NOT NULL,
    response_body   text,
    error           text,
    worker          text NOT NULL
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, id);
