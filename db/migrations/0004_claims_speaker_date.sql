-- 0004: a speaker's claims in date order (the common "what has X said lately" page) stay a single
-- index range scan at any depth, instead of reading and sorting all of the speaker's claims.
CREATE INDEX claims_speaker_claim_date_idx ON claims (speaker_id, (coalesce(claim_date, '0001-01-01'::date)), id);
