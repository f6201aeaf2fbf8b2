-- Refused inputs, kept for a while so that one can ask why a deal did not move: the event or
-- the creation that was refused, who sent it, with what, and why (the rule, when one decided).
CREATE TABLE refusals (
    id            BIGSERIAL PRIMARY KEY,
    deal_id       TEXT    NOT NULL,
    at            TEXT    NOT NULL,
    input         TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    payload       TEXT    NOT NULL,
    sent_by       TEXT,
    code          TEXT    NOT NULL,
    reason        TEXT    NOT NULL,
    rule          TEXT,
    rules_version BIGINT NOT NULL
);
CREATE INDEX refusals_deal ON refusals (deal_id, id);
CREATE INDEX refusals_at ON refusals (at);
