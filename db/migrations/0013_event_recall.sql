-- 0013: the recall rules on every event channel. An event stores its fact's snapshot (events.data,
-- copied from the revision), which no read relation ever sees; this is the one definition of what
-- a read-scope or anonymous consumer may see of it, evaluated when the event leaves (REST list,
-- SSE and GraphQL replays, the relay's public form for live delivery, each webhook attempt).
--
-- * It mirrors 0009's <table>_public_at for the event's version: an article version is a stub when
--   that version OR the article now is not usable (its pubStatus the current one while that is not
--   usable); a claim, deployment or incident version has no data (NULL) when that version OR the
--   fact now is withdrawn — the fact is absent for such readers, so its events carry no snapshot.
-- * The stub keeps the read stub's fields (tests/api/test_events_recall.py holds the two equal by
--   comparing this with an anonymous REST read of the same version).
-- * Reading the snapshot rather than the history by version: two versions written in one
--   transaction (or by writers racing) share a valid_from, so "as of the event's time" cannot name
--   each of them; the snapshot is that version exactly.
CREATE FUNCTION event_public_data(kind text, fact text, doc jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN kind = 'article' THEN (
            SELECT CASE WHEN doc ->> 'pubStatus' = 'usable' AND cur.pub_status = 'usable' THEN doc
                        ELSE doc || jsonb_build_object(
                            'url', NULL, 'headline', NULL, 'summary', NULL, 'body', NULL, 'publishedAt', NULL,
                            'authors', '[]'::jsonb, 'basedOn', '[]'::jsonb, 'subjects', '[]'::jsonb,
                            'pubStatus', CASE WHEN cur.pub_status <> 'usable' THEN cur.pub_status
                                              ELSE doc ->> 'pubStatus' END)
                   END
            FROM articles cur WHERE cur.id = fact)
        WHEN kind IN ('claim', 'deployment', 'incident') THEN
            CASE WHEN coalesce(doc ->> 'sourcing' = 'withdrawn', false) OR nf_withdrawn(fact) THEN NULL ELSE doc END
        ELSE doc
    END
$$;

-- What a webhook endpoint receives: 'public' (the rules above; the default, also for endpoints
-- registered before this migration, which received full snapshots until now) or 'full' (set by an
-- admin for a partner entitled to recalled content). Each attempt records the scope it was sent in.
ALTER TABLE webhook_endpoints ADD COLUMN payload_scope text NOT NULL DEFAULT 'public'
    CONSTRAINT webhook_endpoints_payload_scope_check CHECK (payload_scope IN ('public', 'full'));
ALTER TABLE webhook_attempts ADD COLUMN payload_scope text
    CONSTRAINT webhook_attempts_payload_scope_check CHECK (payload_scope IN ('public', 'full'));
