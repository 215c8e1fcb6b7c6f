-- 0009: the whole graph as of any time, and the recall rules, as relations with each table's own
-- row type, so every read (REST, both GraphQL paths, search) runs the same SQL over either.
--
-- * <table>_history holds every version of every row with the interval it was current,
--   [valid_from, valid_to), valid_from being the version's updated_at — the time its revision
--   records as changed_at. A trigger keeps it in step with the table, so no writer can forget it.
-- * <table>_at(T) is the table as it stood at T: an inlinable SQL function (one SELECT, STABLE),
--   so filters, keyset bounds and relation probes of the read reach the history's indexes, which
--   copy the table's own (the unique ones as plain indexes: a fact has many versions).
-- * <table>_public() and <table>_public_at(T) are what read-scope and anonymous callers see: an
--   article withheld or canceled (then or now — a recall takes content down from the past too) is
--   a stub without its text, and a claim, deployment or incident whose every reference points into
--   withdrawn articles is absent. Actors have no recall rules; their public relation is the table.
-- * A column added to a fact table later must be added to its history table in the same migration,
--   and these functions recreated (the DO block below shows how).
DO $do$
DECLARE
    tbl text;
    cols text;
    hcols text;
    idx record;
BEGIN
    FOREACH tbl IN ARRAY ARRAY['actors', 'articles', 'claims', 'deployments', 'incidents'] LOOP
        EXECUTE format('CREATE TABLE %1$I_history (LIKE %1$I INCLUDING DEFAULTS INCLUDING GENERATED)', tbl);
        EXECUTE format('ALTER TABLE %I_history ADD COLUMN valid_from timestamptz NOT NULL,'
                       ' ADD COLUMN valid_to timestamptz NOT NULL DEFAULT ''infinity''', tbl);
        -- One current version per fact; a probe by id (and time) is one index range.
        EXECUTE format('CREATE UNIQUE INDEX %1$I_history_current_idx ON %1$I_history (id) WHERE valid_to = ''infinity''', tbl);
        EXECUTE format('CREATE INDEX %1$I_history_id_idx ON %1$I_history (id, valid_from)', tbl);
        FOR idx IN
            SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS def
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid = tbl::regclass AND NOT i.indisprimary
        LOOP
            EXECUTE replace(replace(replace(idx.def, 'CREATE UNIQUE INDEX', 'CREATE INDEX'),
                                    ' ON public.' || tbl || ' ', ' ON public.' || tbl || '_history '),
                            'INDEX ' || idx.name || ' ', 'INDEX ' || idx.name || '_history ');
        END LOOP;

        SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
        FROM pg_attribute WHERE attrelid = tbl::regclass AND attnum > 0 AND NOT attisdropped;
        SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO hcols
        FROM pg_attribute WHERE attrelid = tbl::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = '';

        EXECUTE format($f$
            CREATE FUNCTION %1$I_keep_history() RETURNS trigger LANGUAGE plpgsql AS $body$
            DECLARE
                since timestamptz;
            BEGIN
                -- Versions follow each other even when a writer's transaction began before the
                -- previous writer's (updated_at is the transaction's start): never back in time.
                UPDATE %1$I_history SET valid_to = greatest(valid_from, NEW.updated_at)
                WHERE id = NEW.id AND valid_to = 'infinity'
                RETURNING valid_to INTO since;
                INSERT INTO %1$I_history (%2$s, valid_from) SELECT %3$s, coalesce(since, NEW.updated_at);
                RETURN NULL;
            END
            $body$$f$, tbl, hcols, (SELECT string_agg('NEW.' || c, ', ') FROM unnest(string_to_array(hcols, ', ')) c));
        EXECUTE format('CREATE TRIGGER %1$I_history AFTER INSERT OR UPDATE ON %1$I FOR EACH ROW EXECUTE FUNCTION %1$I_keep_history()', tbl);

        -- What is already stored: the current version of each row (earlier versions follow below).
        EXECUTE format('INSERT INTO %1$I_history (%2$s, valid_from) SELECT %2$s, updated_at FROM %1$I', tbl, hcols);

        EXECUTE format($f$
            CREATE FUNCTION %1$I_at(at timestamptz) RETURNS SETOF %1$I LANGUAGE sql STABLE AS
            'SELECT %2$s FROM %1$I_history h WHERE h.valid_from <= at AND at < h.valid_to'$f$,
            tbl, (SELECT string_agg('h.' || c, ', ') FROM unnest(string_to_array(cols, ', ')) c));
    END LOOP;
END
$do$;

-- Earlier versions of facts stored before this migration, rebuilt from their revisions' snapshots
-- (the *_doc shape) — each valid until the next version's time.
CREATE FUNCTION pg_temp.versions(kind text) RETURNS TABLE (doc jsonb, valid_from timestamptz, valid_to timestamptz)
LANGUAGE sql AS $$
    SELECT r.snapshot, r.changed_at, n.changed_at
    FROM revisions r
    JOIN revisions n ON n.fact_id = r.fact_id AND n.version = r.version + 1
    WHERE r.fact_type = kind
$$;
INSERT INTO actors_history (id, kind, name, aliases, description, country, wikidata_id, roles, retracted_at,
                            created_at, updated_at, version, valid_from, valid_to)
SELECT d->>'id', d->>'kind', d->>'name', ARRAY(SELECT jsonb_array_elements_text(d->'aliases')), d->>'description',
       d->>'country', d->>'wikidataId', d->'roles', (d->>'retractedAt')::timestamptz, (d->>'createdAt')::timestamptz,
       (d->>'updatedAt')::timestamptz, (d->>'version')::int, f, t
FROM pg_temp.versions('actor') v(d, f, t);
INSERT INTO articles_history (id, uri, url, headline, summary, body, language, published_at, outlet_id, author_ids,
                              based_on_ids, subjects, pub_status, retracted_at, created_at, updated_at, version,
                              valid_from, valid_to)
SELECT d->>'id', d->>'uri', d->>'url', d->>'headline', d->>'summary', d->>'body', d->>'language',
       (d->>'publishedAt')::timestamptz, d->>'outlet', ARRAY(SELECT jsonb_array_elements_text(d->'authors')),
       ARRAY(SELECT jsonb_array_elements_text(d->'basedOn')), ARRAY(SELECT jsonb_array_elements_text(d->'subjects')),
       d->>'pubStatus', (d->>'retractedAt')::timestamptz, (d->>'createdAt')::timestamptz,
       (d->>'updatedAt')::timestamptz, (d->>'version')::int, f, t
FROM pg_temp.versions('article') v(d, f, t);
INSERT INTO claims_history (id, statement, quote, quote_type, speaker_id, speaker_description, reported_by_id,
                            subject_ids, claim_date, claim_date_precision, status, supersedes_ids, contradicts_ids,
                            same_as_ids, refs, article_ids, retracted_at, created_at, updated_at, version,
                            valid_from, valid_to)
SELECT d->>'id', d->>'statement', d->>'quote', d->>'quoteType', d->>'speaker', d->>'speakerDescription',
       d->>'reportedBy', ARRAY(SELECT jsonb_array_elements_text(d->'subjects')), (d->>'claimDate')::date,
       d->>'claimDatePrecision', d->>'status', ARRAY(SELECT jsonb_array_elements_text(d->'supersedes')),
       ARRAY(SELECT jsonb_array_elements_text(d->'contradicts')), ARRAY(SELECT jsonb_array_elements_text(d->'sameAs')),
       d->'references', ARRAY(SELECT DISTINCT x->>'article' FROM jsonb_array_elements(d->'references') x),
       (d->>'retractedAt')::timestamptz, (d->>'createdAt')::timestamptz, (d->>'updatedAt')::timestamptz,
       (d->>'version')::int, f, t
FROM pg_temp.versions('claim') v(d, f, t);
INSERT INTO deployments_history (id, deployer_id, region_name, region_geojson, stated_purpose, status, started_on,
                                 ended_on, assets, asset_types, refs, article_ids, retracted_at, created_at,
                                 updated_at, version, valid_from, valid_to)
SELECT d->>'id', d->>'deployer', d#>>'{region,name}', d#>'{region,geojson}', d->>'statedPurpose', d->>'status',
       (d->>'startedOn')::date, (d->>'endedOn')::date, d->'assets',
       ARRAY(SELECT DISTINCT x->>'assetType' FROM jsonb_array_elements(d->'assets') x WHERE x->>'assetType' IS NOT NULL),
       d->'references', ARRAY(SELECT DISTINCT x->>'article' FROM jsonb_array_elements(d->'references') x),
       (d->>'retractedAt')::timestamptz, (d->>'createdAt')::timestamptz, (d->>'updatedAt')::timestamptz,
       (d->>'version')::int, f, t
FROM pg_temp.versions('deployment') v(d, f, t);
INSERT INTO incidents_history (id, incident_type, description, actors, actor_ids, location_name, location_geojson,
                               occurred_from, occurred_to, occurred_precision, count, fatalities, injuries, refs,
                               article_ids, retracted_at, created_at, updated_at, version, valid_from, valid_to)
SELECT d->>'id', d->>'incidentType', d->>'description', d->'actors',
       ARRAY(SELECT DISTINCT x->>'actor' FROM jsonb_array_elements(d->'actors') x WHERE x->>'actor' IS NOT NULL),
       d#>>'{location,name}', d#>'{location,geojson}', (d->>'occurredFrom')::date, (d->>'occurredTo')::date,
       d->>'occurredPrecision', nullif(d->'count', 'null'), nullif(d->'fatalities', 'null'),
       nullif(d->'injuries', 'null'), d->'references',
       ARRAY(SELECT DISTINCT x->>'article' FROM jsonb_array_elements(d->'references') x),
       (d->>'retractedAt')::timestamptz, (d->>'createdAt')::timestamptz, (d->>'updatedAt')::timestamptz,
       (d->>'version')::int, f, t
FROM pg_temp.versions('incident') v(d, f, t);

-- The recall rules. A stub keeps what identifies the article and its state, nothing of its text
-- (its search vector too, so its words match nothing).
CREATE FUNCTION articles_public() RETURNS SETOF articles LANGUAGE sql STABLE AS $$
    SELECT a.id, a.uri, CASE WHEN a.pub_status = 'usable' THEN a.url END,
           CASE WHEN a.pub_status = 'usable' THEN a.headline END,
           CASE WHEN a.pub_status = 'usable' THEN a.summary END,
           CASE WHEN a.pub_status = 'usable' THEN a.body END,
           a.language, CASE WHEN a.pub_status = 'usable' THEN a.published_at END, a.outlet_id,
           CASE WHEN a.pub_status = 'usable' THEN a.author_ids ELSE '{}' END,
           CASE WHEN a.pub_status = 'usable' THEN a.based_on_ids ELSE '{}' END,
           CASE WHEN a.pub_status = 'usable' THEN a.subjects ELSE '{}' END,
           a.pub_status, a.retracted_at, a.created_at, a.updated_at, a.version,
           CASE WHEN a.pub_status = 'usable' THEN a.search END
    FROM articles a
$$;
CREATE FUNCTION articles_public_at(at timestamptz) RETURNS SETOF articles LANGUAGE sql STABLE AS $$
    SELECT a.id, a.uri, CASE WHEN s.usable THEN a.url END, CASE WHEN s.usable THEN a.headline END,
           CASE WHEN s.usable THEN a.summary END, CASE WHEN s.usable THEN a.body END,
           a.language, CASE WHEN s.usable THEN a.published_at END, a.outlet_id,
           CASE WHEN s.usable THEN a.author_ids ELSE '{}' END, CASE WHEN s.usable THEN a.based_on_ids ELSE '{}' END,
           CASE WHEN s.usable THEN a.subjects ELSE '{}' END,
           CASE WHEN s.usable THEN a.pub_status ELSE s.now_status END,
           a.retracted_at, a.created_at, a.updated_at, a.version, CASE WHEN s.usable THEN a.search END
    FROM articles_history a
    JOIN articles cur ON cur.id = a.id
    CROSS JOIN LATERAL (SELECT a.pub_status = 'usable' AND cur.pub_status = 'usable' AS usable,
                               CASE WHEN cur.pub_status <> 'usable' THEN cur.pub_status ELSE a.pub_status END AS now_status) s
    WHERE a.valid_from <= at AND at < a.valid_to
$$;
DO $do$
DECLARE
    tbl text;
    cols text;
BEGIN
    FOREACH tbl IN ARRAY ARRAY['claims', 'deployments', 'incidents'] LOOP
        SELECT string_agg('h.' || quote_ident(attname), ', ' ORDER BY attnum) INTO cols
        FROM pg_attribute WHERE attrelid = tbl::regclass AND attnum > 0 AND NOT attisdropped;
        EXECUTE format($f$CREATE FUNCTION %1$I_public() RETURNS SETOF %1$I LANGUAGE sql STABLE AS
            'SELECT %2$s FROM %1$I h WHERE h.sourcing <> ''withdrawn'''$f$, tbl, cols);
        EXECUTE format($f$CREATE FUNCTION %1$I_public_at(at timestamptz) RETURNS SETOF %1$I LANGUAGE sql STABLE AS
            'SELECT %2$s FROM %1$I_history h JOIN %1$I cur ON cur.id = h.id
             WHERE h.valid_from <= at AND at < h.valid_to
               AND h.sourcing <> ''withdrawn'' AND cur.sourcing <> ''withdrawn'''$f$, tbl, cols);
    END LOOP;
END
$do$;

-- Whether a fact is withdrawn from read-scope callers now: its revisions' snapshots would show
-- what the recall took down.
CREATE FUNCTION nf_withdrawn(fact_id text) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT CASE left(fact_id, 4)
        WHEN 'art_' THEN EXISTS (SELECT 1 FROM articles WHERE id = fact_id AND pub_status <> 'usable')
        WHEN 'clm_' THEN EXISTS (SELECT 1 FROM claims WHERE id = fact_id AND sourcing = 'withdrawn')
        WHEN 'dep_' THEN EXISTS (SELECT 1 FROM deployments WHERE id = fact_id AND sourcing = 'withdrawn')
        WHEN 'inc_' THEN EXISTS (SELECT 1 FROM incidents WHERE id = fact_id AND sourcing = 'withdrawn')
        ELSE false END
$$;

-- The cursor of an "as of" page carries its time (db/pagination.encode's fourth element).
CREATE FUNCTION nf_cursor(ord text, sort_key text, id text, as_of text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN as_of IS NULL THEN nf_cursor(ord, sort_key, id) ELSE rtrim(translate(encode(convert_to(
        '[' || to_json(ord)::text || ',' || to_json(sort_key)::text || ',' || to_json(id)::text || ','
        || to_json(as_of)::text || ']', 'UTF8'), 'base64'), E'+/\n', '-_'), '=') END
$$;
