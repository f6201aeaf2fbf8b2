-- From this step on, a deal's tasks are kept in `tasks` only, no longer also in its document,
-- and a message's subject, text and attachments in its outbox row only, no longer also in its
-- history record. Documents and records written before still read as they were.
--
-- The rows become the tasks' one place, so they take what the documents knew better: a switch
-- to rules that renamed a task's stage rewrote the document, not the task's unchanged row.
UPDATE tasks SET stage = (
    SELECT json_extract(d.state, '$.tasks[' || tasks.n || '].stage') FROM deals d
    WHERE d.id = tasks.deal_id
)
WHERE EXISTS (
    SELECT 1 FROM deals d
    WHERE d.id = tasks.deal_id
      AND json_extract(d.state, '$.tasks[' || tasks.n || '].stage') IS NOT NULL
      AND json_extract(d.state, '$.tasks[' || tasks.n || '].stage') <> tasks.stage
);
-- A dealflow from before this step refuses the database (it would read a deal written since as
-- having no tasks) rather than work on it: the step's number says so, and this row too.
INSERT INTO meta (key, value) VALUES ('kept_once', 'tasks in their table, texts in the outbox')
    ON CONFLICT (key) DO NOTHING;
