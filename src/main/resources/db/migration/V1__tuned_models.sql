-- Tuned models, their tuning job (one long-running operation each) and per-step snapshots.
-- Portable SQL: runs on SQLite and PostgreSQL.
CREATE TABLE tuned_models (
    id                       VARCHAR(80)  PRIMARY KEY,
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
    cancel_requested         INTEGER      NOT NULL DEFAULT 0
);

CREATE INDEX tuned_models_project ON tuned_models (project, create_time);
CREATE INDEX tuned_models_state ON tuned_models (state);

CREATE TABLE tuning_snapshots (
    tuned_model_id VARCHAR(80)      NOT NULL REFERENCES tuned_models (id) ON DELETE CASCADE,
    step           INTEGER          NOT NULL,
    epoch          INTEGER          NOT NULL,
    mean_loss      DOUBLE PRECISION NOT NULL,
    compute_time   VARCHAR(40)      NOT NULL,
    PRIMARY KEY (tuned_model_id, step)
);
