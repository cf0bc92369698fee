-- How many times a tuning job was started; a job that keeps taking its process down ends FAILED.
ALTER TABLE tuned_models ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
