-- The processes that run tuning jobs, live or lately live: each upserts its row every heartbeat and deletes it when
-- it stops in order; a row not refreshed for stale_after_ms belongs to a worker that died (or is paused). Times are
-- epoch milliseconds, portable between SQLite and PostgreSQL.
CREATE TABLE tuning_workers (
    worker          VARCHAR(100) NOT NULL PRIMARY KEY,
    slots           INTEGER      NOT NULL,
    started_ms      BIGINT       NOT NULL,
    last_heartbeat_ms BIGINT     NOT NULL,
    stale_after_ms  BIGINT       NOT NULL
);
