-- 0015: a statement that inserts facts opens their history in one set-based insert, and the
-- history keeps a copy of each version's search vector instead of computing it a second time.
--
-- * Inserts: a statement-level trigger with a transition table (new_rows) writes the first
--   version of every inserted fact in one INSERT … SELECT, instead of a PL/pgSQL call and an
--   INSERT per row. That was about half of PostgreSQL's CPU per loaded claim (profile of the
--   bulk loader, README "Loading data"). Every writer gets it: the API's single-record creates
--   run the same trigger over a one-row transition table.
-- * Updates keep 0012's row-level trigger (close the open version, open the next): an update
--   statement's rows each close their own open version, a probe by id that a per-row plan does
--   best, whatever the size of the statement.
-- * A history table's generated columns (search) are plain columns from here on, filled from the
--   fact row's (same expression, same value): to_tsvector ran twice per version, once per table.
--   A later migration that recreates these trigger functions must copy them too: derive the column
--   list as below, every column of the fact table (generated ones included), not 0012's list
--   without the generated columns; a generated column added to a fact table is a plain column
--   in its history table.
DO $do$
DECLARE
    tbl text;
    cols text;
    generated text;
BEGIN
    FOREACH tbl IN ARRAY ARRAY['actors', 'articles', 'claims', 'deployments', 'incidents'] LOOP
        FOR generated IN
            SELECT attname FROM pg_attribute
            WHERE attrelid = (tbl || '_history')::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated <> ''
        LOOP
            EXECUTE format('ALTER TABLE %I_history ALTER COLUMN %I DROP EXPRESSION', tbl, generated);
        END LOOP;

        SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
        FROM pg_attribute WHERE attrelid = tbl::regclass AND attnum > 0 AND NOT attisdropped;

        EXECUTE format($f$
            CREATE OR REPLACE FUNCTION %1$I_keep_history() RETURNS trigger LANGUAGE plpgsql AS $body$
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
            $body$$f$, tbl, cols, (SELECT string_agg('NEW.' || c, ', ') FROM unnest(string_to_array(cols, ', ')) c));

        -- A new fact has no open version to close: its first version opens at its updated_at.
        EXECUTE format($f$
            CREATE FUNCTION %1$I_open_history() RETURNS trigger LANGUAGE plpgsql AS $body$
            BEGIN
                INSERT INTO %1$I_history (%2$s, valid_from) SELECT %2$s, updated_at FROM new_rows;
                RETURN NULL;
            END
            $body$$f$, tbl, cols);

        EXECUTE format('DROP TRIGGER %1$I_history ON %1$I', tbl);
        EXECUTE format('CREATE TRIGGER %1$I_history AFTER UPDATE ON %1$I FOR EACH ROW EXECUTE FUNCTION %1$I_keep_history()', tbl);
        EXECUTE format('CREATE TRIGGER %1$I_history_insert AFTER INSERT ON %1$I REFERENCING NEW TABLE AS new_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION %1$I_open_history()', tbl);
    END LOOP;
END $do$;

-- The files `newsfacts load` has read, by digest of their bytes, with the time of the first load.
-- A record that gives no id gets one minted from both (db/load/minting.py): loading the same file
-- again — after an interrupted load, say — mints the same ids, which are then refused as taken
-- instead of loaded twice.
CREATE TABLE load_files (
    digest          bytea PRIMARY KEY,
    first_loaded_at timestamptz NOT NULL DEFAULT now()
);
