-- 0011: the GIN indexes that relations probe (a fact's articles, subjects, links, actors and asset
-- types, live and as of any time) write straight into the index instead of a pending list.
-- Every probe scans a GIN index's pending list whole until a vacuum merges it, and a relation
-- page probes once per parent row: with 10,000 claims pending, the nested articles -> claims read
-- took 8.5 ms instead of 1 ms, and under steady writes the list grows to gin_pending_list_limit
-- (4 MB) before an insert merges it. These arrays hold a few ids each, so writing them directly
-- costs nothing measurable (a 23,120-fact bulk load: 4.8-5.1 s either way). The full-text
-- indexes keep their pending list: a document adds hundreds of terms, and search probes once.
DO $$
DECLARE
    idx regclass;
BEGIN
    FOR idx IN
        SELECT i.indexrelid::regclass FROM pg_index i
        JOIN pg_class ic ON ic.oid = i.indexrelid
        JOIN pg_am am ON am.oid = ic.relam
        JOIN pg_class t ON t.oid = i.indrelid
        WHERE am.amname = 'gin' AND ic.relname NOT LIKE '%search%'
          AND t.relname IN ('articles', 'actors', 'claims', 'deployments', 'incidents',
                            'articles_history', 'actors_history', 'claims_history',
                            'deployments_history', 'incidents_history')
    LOOP
        EXECUTE format('ALTER INDEX %s SET (fastupdate = off)', idx);
        PERFORM gin_clean_pending_list(idx);  -- what is pending now is merged once, here
    END LOOP;
END $$;
