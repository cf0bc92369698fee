-- Revoked access tokens (RFC 7009) and the state of OAuth clients that every token verification reads.
-- Portable SQL: runs on SQLite and PostgreSQL.

-- A revoked token is kept until it would have expired anyway; expires_at is epoch seconds so that the purge
-- compares numbers (ISO-8601 strings with varying fraction digits do not sort as instants).
CREATE TABLE revoked_tokens (
    jti         VARCHAR(100) PRIMARY KEY,
    client_id   VARCHAR(100) NOT NULL,
    expires_at  BIGINT       NOT NULL,
    revoke_time VARCHAR(40)  NOT NULL
);

CREATE INDEX revoked_tokens_expires_at ON revoked_tokens (expires_at);

-- A disabled client gets no tokens and its tokens are refused.
ALTER TABLE oauth_clients ADD COLUMN disable_time VARCHAR(40);

-- Tokens carry the generation current when they were issued; rotating the secret or disabling the client starts
-- a new one, which ends every token of the old.
ALTER TABLE oauth_clients ADD COLUMN token_generation INTEGER NOT NULL DEFAULT 1;
