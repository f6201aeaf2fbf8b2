-- Task timers: who has a timer running on a task, and since when. A person has one running
-- timer at most, across deals: the writer pauses it when they start another, and the team page
-- lists the running ones, both through the index.
ALTER TABLE tasks ADD COLUMN timer_by TEXT;
ALTER TABLE tasks ADD COLUMN timer_since TEXT;
CREATE INDEX tasks_timing ON tasks (timer_by) WHERE timer_by IS NOT NULL;
