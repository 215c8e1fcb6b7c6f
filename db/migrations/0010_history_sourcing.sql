-- 0010: the sourcing of fact versions 0009 rebuilt from revisions. 0009 rebuilds the earlier
-- versions of facts stored before it from their snapshots but leaves sourcing at its default, so a
-- database that ran 0008's recalls before 0009 read 'supported' "as of" a time a fact was
-- withdrawn. The snapshot says what it was; every later version is recorded by 0009's triggers.
UPDATE claims_history h SET sourcing = r.snapshot ->> 'sourcing'
FROM revisions r
WHERE r.fact_id = h.id AND r.version = h.version AND r.snapshot ? 'sourcing'
  AND h.sourcing IS DISTINCT FROM r.snapshot ->> 'sourcing';
UPDATE deployments_history h SET sourcing = r.snapshot ->> 'sourcing'
FROM revisions r
WHERE r.fact_id = h.id AND r.version = h.version AND r.snapshot ? 'sourcing'
  AND h.sourcing IS DISTINCT FROM r.snapshot ->> 'sourcing';
UPDATE incidents_history h SET sourcing = r.snapshot ->> 'sourcing'
FROM revisions r
WHERE r.fact_id = h.id AND r.version = h.version AND r.snapshot ? 'sourcing'
  AND h.sourcing IS DISTINCT FROM r.snapshot ->> 'sourcing';
