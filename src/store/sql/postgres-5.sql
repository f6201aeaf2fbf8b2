-- Logins to the dashboard: a random id kept by the browser, stored here only hashed, with the
-- digest of the token it was opened with (a token taken out of the configuration ends its
-- sessions), whose it is, the form token its pages carry, and when it ends.
CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    token      TEXT NOT NULL,
    person     TEXT,
    csrf       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    seen_at    TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- A client's opt-out from a channel (`sms`, `email`): the outbox skips their messages on it.
CREATE TABLE opt_outs (
    deal_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    at      TEXT NOT NULL,
    sent_by TEXT,
    PRIMARY KEY (deal_id, channel)
);
