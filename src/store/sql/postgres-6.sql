-- The dashboard's summaries, kept by the writer in the same transaction as the steps that change
-- them, so that no page reads every deal. Rebuilt from the deals when what they are computed
-- from changes (the `[dashboard]` mapping, renames in the rules: the mark `summaries` holds
-- their fingerprint) and by `dealflow summaries rebuild`; this step leaves them empty, and the
-- daemon fills them at its first start.

-- A deal as the pages list it: one narrow row per deal (its document stays in `deals`).
-- `places` is where it counts on the board (`stage@moment` joined by `|`: a live deal's
-- active tracks, a finished deal's final stages), `waiting` the joins where tracks wait,
-- `alerts` the raised ones (`|a|b|`), `person` the first filled role slot, `since` when its
-- oldest live track entered its stage, `ended_at` when a finished deal finished, `trouble_since`
-- is `since` for a live deal with an alert raised (what the out-of-control page lists);
-- `sold_hours` and `spent_hours` are exact decimals, `overrun` the hours spent past those sold
-- in hundredths (set only when there is an overrun: the analytics list the largest).
CREATE TABLE deal_facts (
    deal_id     TEXT    PRIMARY KEY,
    title       TEXT    NOT NULL,
    live        BIGINT  NOT NULL,
    client      TEXT,
    amount      TEXT,
    planned_end TEXT,
    invoice     TEXT,
    places      TEXT    NOT NULL,
    waiting     TEXT    NOT NULL,
    alerts      TEXT    NOT NULL,
    person      TEXT,
    since       TEXT,
    ended_at    TEXT,
    trouble_since TEXT,
    sold_hours  TEXT,
    spent_hours TEXT    NOT NULL,
    overrun     BIGINT
);
CREATE INDEX deal_facts_end ON deal_facts (planned_end, amount) WHERE live = 1;
CREATE INDEX deal_facts_trouble ON deal_facts (trouble_since) WHERE trouble_since IS NOT NULL;
CREATE INDEX deal_facts_overrun ON deal_facts (overrun) WHERE overrun IS NOT NULL;

-- What a deal is found by (`/search`): its id, title, name, phones (also as digits), emails,
-- in lower case.
CREATE TABLE deal_search (
    deal_id TEXT PRIMARY KEY,
    words   TEXT NOT NULL
);

-- A row per deal and board column it counts in, so a column's first cards are read by index.
CREATE TABLE deal_places (
    deal_id    TEXT NOT NULL,
    stage      TEXT NOT NULL,
    entered_at TEXT NOT NULL,
    PRIMARY KEY (deal_id, stage)
);
CREATE INDEX deal_places_stage ON deal_places (stage, entered_at);

-- Counts and sums by name: `stage/NAME` (deals counting in the column, the sum of their
-- amounts), `alert/NAME` (live deals with it raised), `invoice/paid` and `invoice/invoiced`
-- (deals and amounts), `hours/MONDAY/MEMBER` (time entries logged that week, the hours in
-- `amount`). Amounts are exact decimal text.
CREATE TABLE totals (
    name   TEXT    PRIMARY KEY,
    deals  BIGINT  NOT NULL,
    amount TEXT    NOT NULL
);

-- Overdue work is read by its due moment (it changes with the clock alone, so it is not summed),
-- everybody's and each person's; open tasks per person by the second index too.
CREATE INDEX tasks_open_due ON tasks (due) WHERE done_at IS NULL;
CREATE INDEX tasks_open_by ON tasks (assignee, due) WHERE done_at IS NULL;
DROP INDEX tasks_assignee;
