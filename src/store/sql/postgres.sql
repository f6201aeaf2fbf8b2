-- dealflow's store, PostgreSQL. Moments are RFC 3339 text (UTC) for people and
-- milliseconds since 1970 where the scheduler orders by them; money is exact decimal text.

CREATE TABLE rule_versions (
    version     BIGINT PRIMARY KEY,
    loaded_at   TEXT    NOT NULL,
    file        TEXT    NOT NULL,
    digest      TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    script      TEXT
);

CREATE TABLE deals (
    id            TEXT    PRIMARY KEY,
    title         TEXT    NOT NULL,
    parent        TEXT,
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL,
    rules_version BIGINT NOT NULL,
    revision      BIGINT NOT NULL,
    live          BIGINT NOT NULL,
    stages        TEXT    NOT NULL,
    phases        TEXT    NOT NULL,
    alerts        TEXT    NOT NULL,
    people        TEXT    NOT NULL,
    state         TEXT    NOT NULL
);
CREATE INDEX deals_created ON deals (created_at);

CREATE TABLE history (
    id            BIGSERIAL PRIMARY KEY,
    deal_id       TEXT    NOT NULL,
    at            TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    cause         TEXT    NOT NULL,
    rule          TEXT,
    rules_version BIGINT NOT NULL,
    revision      BIGINT NOT NULL,
    record        TEXT    NOT NULL
);
CREATE INDEX history_deal ON history (deal_id, id);

CREATE TABLE timers (
    deal_id     TEXT    NOT NULL,
    timer_id    BIGINT NOT NULL,
    label       TEXT    NOT NULL,
    due_ms      BIGINT NOT NULL,
    attempt     BIGINT NOT NULL DEFAULT 0,
    lease_ms    BIGINT,
    owner       TEXT,
    PRIMARY KEY (deal_id, timer_id)
);
CREATE INDEX timers_due ON timers (due_ms);

CREATE TABLE tasks (
    deal_id     TEXT    NOT NULL,
    n           BIGINT NOT NULL,
    task        TEXT    NOT NULL,
    title       TEXT    NOT NULL,
    assignee    TEXT,
    stage       TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    due         TEXT,
    estimate_h  TEXT,
    started_at  TEXT,
    done_at     TEXT,
    hours       TEXT    NOT NULL,
    PRIMARY KEY (deal_id, n)
);
CREATE INDEX tasks_assignee ON tasks (assignee, done_at);

CREATE TABLE time_entries (
    deal_id     TEXT    NOT NULL,
    n           BIGINT NOT NULL,
    task        TEXT,
    member      TEXT    NOT NULL,
    hours       TEXT    NOT NULL,
    rate        TEXT    NOT NULL,
    at          TEXT    NOT NULL,
    PRIMARY KEY (deal_id, n)
);

CREATE TABLE team (
    id          TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL,
    roles       TEXT    NOT NULL,
    email       TEXT,
    phone       TEXT,
    rate        TEXT    NOT NULL,
    open_tasks  BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE outbox (
    id            BIGSERIAL PRIMARY KEY,
    dedupe        TEXT    NOT NULL UNIQUE,
    deal_id       TEXT    NOT NULL,
    channel       TEXT    NOT NULL,
    to_kind       TEXT    NOT NULL,
    recipient     TEXT    NOT NULL,
    template      TEXT    NOT NULL,
    subject       TEXT,
    body          TEXT    NOT NULL,
    attachments   TEXT    NOT NULL,
    send_after_ms BIGINT NOT NULL,
    status        TEXT    NOT NULL,
    attempts      BIGINT NOT NULL DEFAULT 0,
    next_ms       BIGINT NOT NULL,
    last_error    TEXT,
    created_at    TEXT    NOT NULL,
    sent_at       TEXT
);
CREATE INDEX outbox_due ON outbox (status, next_ms);

CREATE TABLE requests (
    key         TEXT    PRIMARY KEY,
    fingerprint TEXT    NOT NULL,
    status      BIGINT NOT NULL,
    body        TEXT    NOT NULL,
    created_at  TEXT    NOT NULL
);

CREATE TABLE meta (
    key         TEXT    PRIMARY KEY,
    value       TEXT    NOT NULL
);
