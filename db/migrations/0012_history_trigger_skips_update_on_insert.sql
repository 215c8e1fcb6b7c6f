-- 0012: a fact's first version opens its history without first looking for an open version to
-- close: a new fact has none. The probe ran once per inserted row, from a plan PL/pgSQL keeps for
-- the session, made when the history table was as small as its last ANALYZE said (a seeded
-- database: a few rows). That plan scanned the whole history table, which the same bulk insert
-- was filling: loading 5,000 claims into the seeded database took 10.6 s instead of 1.2 s, and
-- 20,000 took 235 s instead of 18 s (quadratic). Updates still close the open version first.
-- The functions are 0009's with that one condition; the column lists are derived the same way.
DO $do$
DECLARE
    tbl text;
    hcols text;
BEGIN
    FOREACH tbl IN ARRAY ARRAY['actors', 'articles', 'claims', 'deployments', 'incidents'] LOOP
        SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO hcols
        FROM pg_attribute WHERE attrelid = tbl::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = '';

        EXECUTE format($f$
            CREATE OR REPLACE FUNCTION %1$I_keep_history() RETURNS trigger LANGUAGE plpgsql AS $body$
            DECLARE
                since timestamptz;
            BEGIN
                IF TG_OP = 'UPDATE' THEN
                    -- Versions follow each other even when a writer's transaction began before the
                    -- previous writer's (updated_at is the transaction's start): never back in time.
                    UPDATE %1$I_history SET valid_to = greatest(valid_from, NEW.updated_at)
                    WHERE id = NEW.id AND valid_to = 'infinity'
                    RETURNING valid_to INTO since;
                END IF;
                INSERT INTO %1$I_history (%2$s, valid_from) SELECT %3$s, coalesce(since, NEW.updated_at);
                RETURN NULL;
            END
            $body$$f$, tbl, hcols, (SELECT string_agg('NEW.' || c, ', ') FROM unnest(string_to_array(hcols, ', ')) c));
    END LOOP;
END $do$;
