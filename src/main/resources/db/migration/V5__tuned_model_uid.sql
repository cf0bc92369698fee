-- Tuned-model ids are unique within a project, not across projects: a create with an id another project uses
-- must not tell the caller that the other project has it. Every tuned model gets an internal id (uid) that no
-- caller sees: it names the model's files and its tuning job, so a new model that re-uses a deleted model's id
-- shares nothing with it. Existing models keep their id as uid, so their files stay where they are.
-- A model whose adapter could not be read is marked damaged (time and reason) until it loads again.
-- Portable SQL: runs on SQLite and PostgreSQL.
CREATE TABLE tuned_models_v5 (
    uid                      VARCHAR(80)  PRIMARY KEY,
    id                       VARCHAR(80)  NOT NULL,
    project                  VARCHAR(200) NOT NULL,
    operation_id             VARCHAR(40)  NOT NULL,
    display_name             VARCHAR(200),
    description              TEXT,
    base_model               VARCHAR(200) NOT NULL,
    source_tuned_model       VARCHAR(200),
    state                    VARCHAR(20)  NOT NULL,
    create_time              VARCHAR(40)  NOT NULL,
    update_time              VARCHAR(40)  NOT NULL,
    temperature              DOUBLE PRECISION,
    top_p                    DOUBLE PRECISION,
    top_k                    INTEGER,
    epoch_count              INTEGER      NOT NULL,
    batch_size               INTEGER      NOT NULL,
    learning_rate            DOUBLE PRECISION,
    learning_rate_multiplier DOUBLE PRECISION,
    effective_learning_rate  DOUBLE PRECISION NOT NULL,
    training_examples        TEXT         NOT NULL,
    total_steps              INTEGER      NOT NULL,
    completed_steps          INTEGER      NOT NULL DEFAULT 0,
    start_time               VARCHAR(40),
    complete_time            VARCHAR(40),
    error_code               INTEGER,
    error_message            TEXT,
    cancel_requested         INTEGER      NOT NULL DEFAULT 0,
    attempts                 INTEGER      NOT NULL DEFAULT 0,
    damage_time              VARCHAR(40),
    damage_reason            TEXT,
    UNIQUE (project, id)
);

CREATE TABLE tuning_snapshots_v5 (
    tuned_model_uid VARCHAR(80)      NOT NULL REFERENCES tuned_models_v5 (uid) ON DELETE CASCADE,
    step            INTEGER          NOT NULL,
    epoch           INTEGER          NOT NULL,
    mean_loss       DOUBLE PRECISION NOT NULL,
    compute_time    VARCHAR(40)      NOT NULL,
    PRIMARY KEY (tuned_model_uid, step)
);

INSERT INTO tuned_models_v5 (uid, id, project, operation_id, display_name, description, base_model,
        source_tuned_model, state, create_time, update_time, temperature, top_p, top_k, epoch_count, batch_size,
        learning_rate, learning_rate_multiplier, effective_learning_rate, training_examples, total_steps,
        completed_steps, start_time, complete_time, error_code, error_message, cancel_requested, attempts)
    SELECT id, id, project, operation_id, display_name, description, base_model, source_tuned_model, state,
        create_time, update_time, temperature, top_p, top_k, epoch_count, batch_size, learning_rate,
        learning_rate_multiplier, effective_learning_rate, training_examples, total_steps, completed_steps,
        start_time, complete_time, error_code, error_message, cancel_requested, attempts
    FROM tuned_models;

INSERT INTO tuning_snapshots_v5 (tuned_model_uid, step, epoch, mean_loss, compute_time)
    SELECT tuned_model_id, step, epoch, mean_loss, compute_time FROM tuning_snapshots;

DROP TABLE tuning_snapshots;
DROP TABLE tuned_models;
ALTER TABLE tuned_models_v5 RENAME TO tuned_models;
ALTER TABLE tuning_snapshots_v5 RENAME TO tuning_snapshots;

CREATE INDEX tuned_models_project ON tuned_models (project, create_time, id);
CREATE INDEX tuned_models_state ON tuned_models (state);
