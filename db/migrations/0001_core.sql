-- 0001_core: the fact store.
--
-- Design notes (why, not what):
-- * Ids are text "prefix_ULID" in the C collation, so byte order = creation order and keyset
--   pagination over (id) is a plain btree range scan.
-- * Value objects that only ever travel with their fact (quantities, roles, assets, references,
--   incident actors) are jsonb stored in their API shape (camelCase); lists of actor ids are text[].
--   One row per fact keeps reads to one index probe and lets COPY-like bulk loads stay single-table.
--   Reverse lookups (an actor's claims as subject, an article's claims) go through GIN indexes on
--   the arrays; the write service keeps the derived arrays (article_ids, asset_types) in step.
-- * Each table has a *_doc() function: the one canonical JSON representation of a fact. REST
--   serves it, GraphQL maps it, revisions and events snapshot it: one shape everywhere.
-- * Only core PostgreSQL: the embedded pgserver build has no pg_trgm/pgcrypto/btree_gist.

CREATE TABLE actors (
    id            text COLLATE "C" PRIMARY KEY CONSTRAINT actors_id_format CHECK (id ~ '^act_[0-9A-HJKMNP-TV-Z]{26}$'),
    kind          text NOT NULL CONSTRAINT actors_kind_check CHECK (kind IN
                    ('person', 'organization', 'government', 'country', 'mediaOutlet',
                     'militaryUnit', 'group', 'anonymousSource')),
    name          text NOT NULL CONSTRAINT actors_name_check CHECK (length(name) BETWEEN 1 AND 500),
    aliases       text[] NOT NULL DEFAULT '{}',
    description   text,
    country       text CONSTRAINT actors_country_check CHECK (country ~ '^[A-Z]{2}$'),
    wikidata_id   text CONSTRAINT actors_wikidata_id_check CHECK (wikidata_id ~ '^Q[1-9][0-9]*$'),
    roles         jsonb NOT NULL DEFAULT '[]',
    retracted_at  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    version       integer NOT NULL DEFAULT 1,
    search        tsvector GENERATED ALWAYS AS (
                    setweight(to_tsvector('english', name), 'A')
                    || setweight(to_tsvector('english', coalesce(description, '')), 'B')) STORED
);
CREATE INDEX actors_updated_at_idx ON actors (updated_at, id);
CREATE INDEX actors_kind_idx ON actors (kind, id);
CREATE INDEX actors_search_idx ON actors USING gin (search);

CREATE TABLE articles (
    id            text COLLATE "C" PRIMARY KEY CONSTRAINT articles_id_format CHECK (id ~ '^art_[0-9A-HJKMNP-TV-Z]{26}$'),
    uri           text NOT NULL CONSTRAINT articles_uri_key UNIQUE,
    url           text,
    headline      text NOT NULL,
    summary       text,
    body          text NOT NULL DEFAULT '',
    language      text NOT NULL DEFAULT 'en',
    published_at  timestamptz,
    outlet_id     text COLLATE "C",
    author_ids    text[] NOT NULL DEFAULT '{}',
    based_on_ids  text[] NOT NULL DEFAULT '{}',
    subjects      text[] NOT NULL DEFAULT '{}',
    pub_status    text NOT NULL DEFAULT 'usable'
                    CONSTRAINT articles_pub_status_check CHECK (pub_status IN ('usable', 'withheld', 'canceled')),
    retracted_at  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    version       integer NOT NULL DEFAULT 1,
    search        tsvector GENERATED ALWAYS AS (
                    setweight(to_tsvector('english', headline), 'A')
                    || setweight(to_tsvector('english', coalesce(summary, '')), 'B')
                    || setweight(to_tsvector('english', body), 'C')) STORED
);
-- Date sort keys put undated facts first via a sentinel, so every row has a key and keyset
-- comparisons stay plain row comparisons on one btree (NULLs would break both).
CREATE INDEX articles_published_at_idx ON articles ((coalesce(published_at, '0001-01-01T00:00:00Z'::timestamptz)), id);
CREATE INDEX articles_updated_at_idx ON articles (updated_at, id);
CREATE INDEX articles_outlet_idx ON articles (outlet_id, id);
CREATE INDEX articles_actor_ids_idx ON articles USING gin ((author_ids || based_on_ids || ARRAY[outlet_id]));
CREATE INDEX articles_subjects_idx ON articles USING gin (subjects);
CREATE INDEX articles_search_idx ON articles USING gin (search);

CREATE TABLE claims (
    id                    text COLLATE "C" PRIMARY KEY CONSTRAINT claims_id_format CHECK (id ~ '^clm_[0-9A-HJKMNP-TV-Z]{26}$'),
    statement             text NOT NULL,
    quote                 text,
    quote_type            text NOT NULL CONSTRAINT claims_quote_type_check CHECK (quote_type IN ('direct', 'indirect', 'assertion', 'analysis')),
    speaker_id            text COLLATE "C",
    speaker_description   text,
    reported_by_id        text COLLATE "C",
    subject_ids           text[] NOT NULL DEFAULT '{}',
    claim_date            date,
    claim_date_precision  text CONSTRAINT claims_claim_date_precision_check CHECK (claim_date_precision IN ('day', 'month', 'year')),
    status                text NOT NULL DEFAULT 'reported'
                            CONSTRAINT claims_status_check CHECK (status IN ('reported', 'corroborated', 'disputed', 'denied', 'retracted')),
    supersedes_ids        text[] NOT NULL DEFAULT '{}',
    contradicts_ids       text[] NOT NULL DEFAULT '{}',
    same_as_ids           text[] NOT NULL DEFAULT '{}',
    refs                  jsonb NOT NULL DEFAULT '[]',
    article_ids           text[] NOT NULL DEFAULT '{}',
    retracted_at          timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    version               integer NOT NULL DEFAULT 1,
    search                tsvector GENERATED ALWAYS AS (
                            setweight(to_tsvector('english', statement), 'A')
                            || setweight(to_tsvector('english', coalesce(quote, '')), 'B')) STORED
);
-- Keyset pages filtered by speaker or by date stay a single index range scan at any depth.
CREATE INDEX claims_speaker_idx ON claims (speaker_id, id);
CREATE INDEX claims_reported_by_idx ON claims (reported_by_id, id);
CREATE INDEX claims_claim_date_idx ON claims ((coalesce(claim_date, '0001-01-01'::date)), id);
CREATE INDEX claims_updated_at_idx ON claims (updated_at, id);
CREATE INDEX claims_status_idx ON claims (status, id);
CREATE INDEX claims_subject_ids_idx ON claims USING gin (subject_ids);
CREATE INDEX claims_article_ids_idx ON claims USING gin (article_ids);
CREATE INDEX claims_links_idx ON claims USING gin ((supersedes_ids || contradicts_ids || same_as_ids));
CREATE INDEX claims_search_idx ON claims USING gin (search);

CREATE TABLE deployments (
    id              text COLLATE "C" PRIMARY KEY CONSTRAINT deployments_id_format CHECK (id ~ '^dep_[0-9A-HJKMNP-TV-Z]{26}$'),
    deployer_id     text COLLATE "C",
    region_name     text,
    region_geojson  jsonb,
    stated_purpose  text,
    status          text NOT NULL DEFAULT 'announced'
                      CONSTRAINT deployments_status_check CHECK (status IN ('announced', 'active', 'withdrawn')),
    started_on      date,
    ended_on        date,
    assets          jsonb NOT NULL DEFAULT '[]',
    asset_types     text[] NOT NULL DEFAULT '{}',
    refs            jsonb NOT NULL DEFAULT '[]',
    article_ids     text[] NOT NULL DEFAULT '{}',
    retracted_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    version         integer NOT NULL DEFAULT 1,
    search          tsvector GENERATED ALWAYS AS (
                      to_tsvector('english', coalesce(region_name, '') || ' ' || coalesce(stated_purpose, ''))) STORED,
    CONSTRAINT deployments_dates_check CHECK (ended_on IS NULL OR started_on IS NULL OR ended_on >= started_on)
);
CREATE INDEX deployments_deployer_idx ON deployments (deployer_id, id);
CREATE INDEX deployments_started_on_idx ON deployments ((coalesce(started_on, '0001-01-01'::date)), id);
CREATE INDEX deployments_updated_at_idx ON deployments (updated_at, id);
CREATE INDEX deployments_region_idx ON deployments (lower(region_name), id);
CREATE INDEX deployments_asset_types_idx ON deployments USING gin (asset_types);
CREATE INDEX deployments_article_ids_idx ON deployments USING gin (article_ids);
CREATE INDEX deployments_search_idx ON deployments USING gin (search);

CREATE TABLE incidents (
    id                  text COLLATE "C" PRIMARY KEY CONSTRAINT incidents_id_format CHECK (id ~ '^inc_[0-9A-HJKMNP-TV-Z]{26}$'),
    incident_type       text NOT NULL,
    description         text,
    actors              jsonb NOT NULL DEFAULT '[]',
    actor_ids           text[] NOT NULL DEFAULT '{}',
    location_name       text,
    location_geojson    jsonb,
    occurred_from       date,
    occurred_to         date,
    occurred_precision  text CONSTRAINT incidents_occurred_precision_check CHECK (occurred_precision IN ('day', 'month', 'year')),
    count               jsonb,
    fatalities          jsonb,
    injuries            jsonb,
    refs                jsonb NOT NULL DEFAULT '[]',
    article_ids         text[] NOT NULL DEFAULT '{}',
    retracted_at        timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    version             integer NOT NULL DEFAULT 1,
    search              tsvector GENERATED ALWAYS AS (
                          to_tsvector('english', incident_type || ' ' || coalesce(description, '') || ' '
                                      || coalesce(location_name, ''))) STORED,
    CONSTRAINT incidents_dates_check CHECK (occurred_to IS NULL OR occurred_from IS NULL OR occurred_to >= occurred_from)
);
CREATE INDEX incidents_occurred_from_idx ON incidents ((coalesce(occurred_from, '0001-01-01'::date)), id);
CREATE INDEX incidents_updated_at_idx ON incidents (updated_at, id);
CREATE INDEX incidents_type_idx ON incidents (incident_type, id);
CREATE INDEX incidents_actors_idx ON incidents USING gin (actors jsonb_path_ops);
CREATE INDEX incidents_actor_ids_idx ON incidents USING gin (actor_ids);
CREATE INDEX incidents_article_ids_idx ON incidents USING gin (article_ids);
CREATE INDEX incidents_search_idx ON incidents USING gin (search);

-- Every version of every fact, including the current one, so "as of T" is one index probe.
CREATE TABLE revisions (
    fact_id      text COLLATE "C" NOT NULL,
    version      integer NOT NULL,
    fact_type    text NOT NULL,
    change_kind  text NOT NULL CONSTRAINT revisions_change_kind_check CHECK (change_kind IN ('created', 'updated', 'corrected', 'retracted')),
    reason       text,
    changed_by   text NOT NULL,
    changed_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    snapshot     jsonb NOT NULL,
    PRIMARY KEY (fact_id, version)
);
CREATE INDEX revisions_changed_at_idx ON revisions (fact_id, changed_at);

-- The outbox. Sequences are handed out from a single counter row that the writing transaction
-- updates just before it commits: the row lock serialises commits of event-producing transactions,
-- so sequence order equals commit order and a reader that has seen N can never later find N-1
-- appear (which a plain SEQUENCE allows: nextval() is taken early and commits land out of order).
CREATE TABLE event_counter (
    singleton  boolean PRIMARY KEY DEFAULT true CONSTRAINT event_counter_singleton CHECK (singleton),
    last       bigint NOT NULL
);
INSERT INTO event_counter VALUES (true, 0);

CREATE TABLE events (
    sequence        bigint PRIMARY KEY,
    id              text COLLATE "C" NOT NULL CONSTRAINT events_id_key UNIQUE,
    type            text NOT NULL,
    object_type     text NOT NULL,
    object_id       text COLLATE "C" NOT NULL,
    object_version  integer NOT NULL,
    data            jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_object_idx ON events (object_id, sequence);
CREATE INDEX events_type_idx ON events (type, sequence);
CREATE INDEX events_created_at_idx ON events (created_at);

CREATE TABLE api_keys (
    id            text COLLATE "C" PRIMARY KEY,
    name          text NOT NULL,
    scope         text NOT NULL CONSTRAINT api_keys_scope_check CHECK (scope IN ('read', 'write', 'admin')),
    key_hash      bytea NOT NULL CONSTRAINT api_keys_key_hash_key UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz
);

-- Canonical JSON documents. STABLE (not IMMUTABLE) because timestamptz rendering follows the
-- session TimeZone, which the pool pins to UTC.
CREATE FUNCTION actor_doc(a actors) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', a.id, 'object', 'actor', 'kind', a.kind, 'name', a.name, 'aliases', to_jsonb(a.aliases),
        'description', a.description, 'country', a.country, 'wikidataId', a.wikidata_id,
        'roles', a.roles, 'retractedAt', a.retracted_at,
        'createdAt', a.created_at, 'updatedAt', a.updated_at, 'version', a.version)
$$;

CREATE FUNCTION article_doc(a articles) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', a.id, 'object', 'article', 'uri', a.uri, 'url', a.url, 'headline', a.headline,
        'summary', a.summary, 'body', a.body, 'language', a.language, 'publishedAt', a.published_at,
        'outlet', a.outlet_id, 'authors', to_jsonb(a.author_ids), 'basedOn', to_jsonb(a.based_on_ids),
        'subjects', to_jsonb(a.subjects), 'pubStatus', a.pub_status, 'retractedAt', a.retracted_at,
        'createdAt', a.created_at, 'updatedAt', a.updated_at, 'version', a.version)
$$;

CREATE FUNCTION claim_doc(c claims) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', c.id, 'object', 'claim', 'statement', c.statement, 'quote', c.quote,
        'quoteType', c.quote_type, 'speaker', c.speaker_id, 'speakerDescription', c.speaker_description,
        'reportedBy', c.reported_by_id, 'subjects', to_jsonb(c.subject_ids),
        'claimDate', c.claim_date, 'claimDatePrecision', c.claim_date_precision, 'status', c.status,
        'supersedes', to_jsonb(c.supersedes_ids), 'contradicts', to_jsonb(c.contradicts_ids),
        'sameAs', to_jsonb(c.same_as_ids), 'references', c.refs, 'retractedAt', c.retracted_at,
        'createdAt', c.created_at, 'updatedAt', c.updated_at, 'version', c.version)
$$;

CREATE FUNCTION deployment_doc(d deployments) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', d.id, 'object', 'deployment', 'deployer', d.deployer_id,
        'region', jsonb_build_object('name', d.region_name, 'geojson', d.region_geojson),
        'statedPurpose', d.stated_purpose, 'status', d.status, 'startedOn', d.started_on,
        'endedOn', d.ended_on, 'assets', d.assets, 'references', d.refs, 'retractedAt', d.retracted_at,
        'createdAt', d.created_at, 'updatedAt', d.updated_at, 'version', d.version)
$$;

CREATE FUNCTION incident_doc(i incidents) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', i.id, 'object', 'incident', 'incidentType', i.incident_type, 'description', i.description,
        'actors', i.actors, 'location', jsonb_build_object('name', i.location_name, 'geojson', i.location_geojson),
        'occurredFrom', i.occurred_from, 'occurredTo', i.occurred_to, 'occurredPrecision', i.occurred_precision,
        'count', i.count, 'fatalities', i.fatalities, 'injuries', i.injuries, 'references', i.refs,
        'retractedAt', i.retracted_at, 'createdAt', i.created_at, 'updatedAt', i.updated_at, 'version', i.version)
$$;
