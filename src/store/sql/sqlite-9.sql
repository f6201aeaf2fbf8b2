-- Who a request came through, when that is not the person it names: the person of the token or
-- session that acted for them, or an integration token's name (the history records say it too,
-- as `via`).
ALTER TABLE events ADD COLUMN sent_via TEXT;
ALTER TABLE refusals ADD COLUMN sent_via TEXT;

-- Where a refused creation came from: `lead` (POST /api/v1/leads) or `form:KEY` (a website
-- form). Such a refusal is a lead the studio must not lose: it stays on the out-of-control page
-- until someone settles it, by dismissing it or by making a deal from it (`settled_deal`).
ALTER TABLE refusals ADD COLUMN origin TEXT;
ALTER TABLE refusals ADD COLUMN settled_at TEXT;
ALTER TABLE refusals ADD COLUMN settled_by TEXT;
ALTER TABLE refusals ADD COLUMN settled_deal TEXT;
CREATE INDEX refusals_unsettled ON refusals (id) WHERE origin IS NOT NULL AND settled_at IS NULL;

-- A website lead's phone or email that could not be read: the deal was made without it, and the
-- text as typed waits here until someone sets the field or dismisses it (the out-of-control page
-- lists those still open). Personal data: erased with the deal's.
CREATE TABLE contact_checks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    deal_id     TEXT    NOT NULL,
    field       TEXT    NOT NULL,
    typed       TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    at          TEXT    NOT NULL,
    settled_at  TEXT,
    settled_by  TEXT
);
CREATE INDEX contact_checks_deal ON contact_checks (deal_id);
CREATE INDEX contact_checks_open ON contact_checks (id) WHERE settled_at IS NULL;
