-- Webhook signing secrets are stored sealed (AES-256-GCM, db/secrets.py), not in plain text:
-- whoever reads this table cannot forge deliveries. `secret` and every `previous_secrets[].secret`
-- hold `nfsec1.<key id>.<nonce | ciphertext>`, bound to the row's id.
--
-- SQL cannot encrypt (no pgcrypto on every build we run on, and the key must never reach the
-- database), so rows written before this migration are sealed by the application: every server
-- start and worker pass seals rows whose secret_key_id is NULL, and `newsfacts secrets rotate-key`
-- re-seals rows under an older key.

-- The key id every secret of the row is sealed with; NULL: still plain text (sealed at next start).
ALTER TABLE webhook_endpoints ADD COLUMN secret_key_id text;

COMMENT ON COLUMN webhook_endpoints.secret IS 'sealed signing secret: nfsec1.<key id>.<base64url(nonce | AES-GCM ciphertext)>';
COMMENT ON COLUMN webhook_endpoints.secret_key_id IS 'key id (WEBHOOK_SECRET_KEYS) sealing secret and previous_secrets; NULL: plain text, sealed at next start';

-- The rows the sealing pass and the rotation command look for.
CREATE INDEX webhook_endpoints_secret_key_idx ON webhook_endpoints (secret_key_id);
