-- 0007: recall and sourcing — the columns and change kinds; the write service keeps them in step.
--
-- * sourcing is derived from the articles a fact's references point into (supported,
--   partlyWithdrawn, withdrawn). It is stored, not computed per read, so lists can filter on it
--   with the fact's own row (read-scope callers never see a withdrawn fact) and every change of it
--   is a version of the fact with a revision and an event, like any other change.
-- * Recall (pubStatus becoming withheld or canceled, and back) and sourcing changes are change
--   kinds of their own, so history, the corrections feed and events name them.
ALTER TABLE claims ADD COLUMN sourcing text NOT NULL DEFAULT 'supported'
    CONSTRAINT claims_sourcing_check CHECK (sourcing IN ('supported', 'partlyWithdrawn', 'withdrawn'));
ALTER TABLE deployments ADD COLUMN sourcing text NOT NULL DEFAULT 'supported'
    CONSTRAINT deployments_sourcing_check CHECK (sourcing IN ('supported', 'partlyWithdrawn', 'withdrawn'));
ALTER TABLE incidents ADD COLUMN sourcing text NOT NULL DEFAULT 'supported'
    CONSTRAINT incidents_sourcing_check CHECK (sourcing IN ('supported', 'partlyWithdrawn', 'withdrawn'));

ALTER TABLE revisions DROP CONSTRAINT revisions_change_kind_check;
ALTER TABLE revisions ADD CONSTRAINT revisions_change_kind_check CHECK (change_kind IN
    ('created', 'updated', 'corrected', 'retracted', 'withheld', 'canceled', 'released', 'sourcing_changed'));
-- The corrections feed: every change that is not a plain creation or update, newest first.
CREATE INDEX revisions_corrections_idx ON revisions (changed_at DESC, fact_id, version)
    WHERE change_kind NOT IN ('created', 'updated');

CREATE OR REPLACE FUNCTION claim_doc(c claims) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', c.id, 'object', 'claim', 'statement', c.statement, 'quote', c.quote,
        'quoteType', c.quote_type, 'speaker', c.speaker_id, 'speakerDescription', c.speaker_description,
        'reportedBy', c.reported_by_id, 'subjects', to_jsonb(c.subject_ids),
        'claimDate', c.claim_date, 'claimDatePrecision', c.claim_date_precision, 'status', c.status,
        'supersedes', to_jsonb(c.supersedes_ids), 'contradicts', to_jsonb(c.contradicts_ids),
        'sameAs', to_jsonb(c.same_as_ids), 'references', c.refs, 'sourcing', c.sourcing,
        'retractedAt', c.retracted_at, 'createdAt', c.created_at, 'updatedAt', c.updated_at, 'version', c.version)
$$;

CREATE OR REPLACE FUNCTION deployment_doc(d deployments) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', d.id, 'object', 'deployment', 'deployer', d.deployer_id,
        'region', jsonb_build_object('name', d.region_name, 'geojson', d.region_geojson),
        'statedPurpose', d.stated_purpose, 'status', d.status, 'startedOn', d.started_on,
        'endedOn', d.ended_on, 'assets', d.assets, 'references', d.refs, 'sourcing', d.sourcing,
        'retractedAt', d.retracted_at, 'createdAt', d.created_at, 'updatedAt', d.updated_at, 'version', d.version)
$$;

CREATE OR REPLACE FUNCTION incident_doc(i incidents) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', i.id, 'object', 'incident', 'incidentType', i.incident_type, 'description', i.description,
        'actors', i.actors, 'location', jsonb_build_object('name', i.location_name, 'geojson', i.location_geojson),
        'occurredFrom', i.occurred_from, 'occurredTo', i.occurred_to, 'occurredPrecision', i.occurred_precision,
        'count', i.count, 'fatalities', i.fatalities, 'injuries', i.injuries, 'references', i.refs,
        'sourcing', i.sourcing, 'retractedAt', i.retracted_at, 'createdAt', i.created_at,
        'updatedAt', i.updated_at, 'version', i.version)
$$;
