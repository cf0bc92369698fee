-- Projects, OAuth clients (client-credentials grant) and API keys. Secrets and keys are stored only as hashes.
CREATE TABLE projects (
    id          VARCHAR(200) PRIMARY KEY,
    create_time VARCHAR(40)  NOT NULL
);

CREATE TABLE oauth_clients (
    client_id   VARCHAR(100) PRIMARY KEY,
    secret_hash VARCHAR(64)  NOT NULL,
    create_time VARCHAR(40)  NOT NULL
);

CREATE TABLE client_projects (
    client_id VARCHAR(100) NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
    project   VARCHAR(200) NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    PRIMARY KEY (client_id, project)
);

CREATE TABLE api_keys (
    id           VARCHAR(40)  PRIMARY KEY,
    key_hash     VARCHAR(64)  NOT NULL UNIQUE,
    project      VARCHAR(200) NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    display_name VARCHAR(200),
    created_by   VARCHAR(200) NOT NULL,
    create_time  VARCHAR(40)  NOT NULL,
    revoke_time  VARCHAR(40)
);
