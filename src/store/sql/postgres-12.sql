-- From this step on, a deal's tasks are kept in `tasks` only, no longer also in its document,
-- and a message's subject, text and attachments in its outbox row only, no longer also in its
-- history record. Documents and records written before still read as they were.
--
-- The rows become the tasks' one place, so they take what the documents knew better: a switch
-- to rules that renamed a task's stage rewrote the document, not the task's unchanged row.
UPDATE tasks t SET stage = d.state::jsonb -> 'tasks' -> (t.n::int) ->> 'stage'
FROM deals d
WHERE d.id = t.deal_id
  AND (d.state::jsonb -> 'tasks' -> (t.n::int) ->> 'stage') IS NOT NULL
  AND (d.state::jsonb -> 'tasks' -> (t.n::int) ->> 'stage') <> t.stage;
-- A dealflow from before this step refuses the database (it would read a deal written since as
-- having no tasks) rather than work on it: the step's number says so, and this row too.
INSERT INTO meta (key, value) VALUES ('kept_once', 'tasks in their table, texts in the outbox')
    ON CONFLICT (key) DO NOTHING;
