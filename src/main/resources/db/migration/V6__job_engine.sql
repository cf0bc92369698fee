-- The job engine's table (db-scheduler): one row per queued or running tuning job. A running job's row names the
-- process holding it (picked_by) and its last heartbeat; a job whose holder stopped beating is taken over by
-- another worker. The column types that differ between SQLite and PostgreSQL are placeholders filled in per
-- database (Database.Dialect); everything else is portable SQL.
CREATE TABLE scheduled_tasks (
    task_name            VARCHAR(100) NOT NULL,
    task_instance        VARCHAR(100) NOT NULL,
    task_data            ${blob},
    execution_time       ${timestamp} NOT NULL,
    picked               ${boolean}   NOT NULL,
    picked_by            VARCHAR(100),
    last_success         ${timestamp},
    last_failure         ${timestamp},
    consecutive_failures INTEGER,
    last_heartbeat       ${timestamp},
    version              BIGINT       NOT NULL,
    priority             SMALLINT,
    PRIMARY KEY (task_name, task_instance)
);

CREATE INDEX scheduled_tasks_execution_time ON scheduled_tasks (execution_time);
CREATE INDEX scheduled_tasks_last_heartbeat ON scheduled_tasks (last_heartbeat);
CREATE INDEX scheduled_tasks_priority ON scheduled_tasks (priority, execution_time);
