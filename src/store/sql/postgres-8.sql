-- A team member's Telegram chat, for messages `via telegram`.
ALTER TABLE team ADD COLUMN telegram TEXT;
-- Whether they are told of the tasks given to them (1: yes).
ALTER TABLE team ADD COLUMN notices BIGINT  NOT NULL DEFAULT 1;

-- Signed webhooks: a row for each history record a subscription takes, written in the step's
-- transaction and numbered per subscription and deal (`seq`), sent like the outbox's messages
-- (claimed, retried with backoff, `dead` after the last attempt).
CREATE TABLE webhook_deliveries (
    id          BIGSERIAL PRIMARY KEY,
    webhook     TEXT    NOT NULL,
    deal_id     TEXT    NOT NULL,
    seq         BIGINT  NOT NULL,
    kind        TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    attempts    BIGINT  NOT NULL DEFAULT 0,
    next_ms     BIGINT  NOT NULL,
    last_error  TEXT,
    created_at  TEXT    NOT NULL,
    sent_at     TEXT,
    UNIQUE (webhook, deal_id, seq)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_ms);
CREATE INDEX webhook_deliveries_deal ON webhook_deliveries (deal_id, id);
