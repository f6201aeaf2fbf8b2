-- A deal's tasks are kept in `tasks` only, no longer also in its document, and a message's
-- subject, text and attachments in its outbox row only, no longer also in its history record.
-- Nothing moves: documents and records written before still read as they were. The step is
-- here so that a dealflow from before it refuses the database (it would read a deal written
-- since as having no tasks) rather than work on it.
INSERT INTO meta (key, value) VALUES ('kept_once', 'tasks in their table, texts in the outbox')
    ON CONFLICT (key) DO NOTHING;
