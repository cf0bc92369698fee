-- Sharing of tuned models (the Gemini API's tunedModels.permissions): who may use (READER), also edit (WRITER), or
-- also delete, share and transfer (OWNER) a model. grantee_type is USER, GROUP or EVERYONE; email_address is the
-- grantee's address in lowercase, '' for EVERYONE (so that the unique key also holds for it). The project that
-- created a model holds its OWNER permission, id 'creator', as the group PROJECT@projects.tuneforge.
-- Portable SQL: runs on SQLite and PostgreSQL.
CREATE TABLE tuned_model_permissions (
    tuned_model_uid VARCHAR(80)  NOT NULL REFERENCES tuned_models (uid) ON DELETE CASCADE,
    id              VARCHAR(40)  NOT NULL,
    grantee_type    VARCHAR(20)  NOT NULL,
    email_address   VARCHAR(320) NOT NULL,
    role            VARCHAR(20)  NOT NULL,
    create_time     VARCHAR(40)  NOT NULL,
    PRIMARY KEY (tuned_model_uid, id),
    UNIQUE (tuned_model_uid, grantee_type, email_address)
);

CREATE INDEX tuned_model_permissions_grantee ON tuned_model_permissions (grantee_type, email_address, role);

INSERT INTO tuned_model_permissions (tuned_model_uid, id, grantee_type, email_address, role, create_time)
    SELECT uid, 'creator', 'GROUP', LOWER(project) || '@projects.tuneforge', 'OWNER', create_time FROM tuned_models;
