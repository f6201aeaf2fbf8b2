-- A task closed because its deal ended is cancelled, not done (both have `done_at`).
ALTER TABLE tasks ADD COLUMN cancelled BIGINT NOT NULL DEFAULT 0;
