-- Every event applied to a deal, with what it carried: the payload as received (JSON), who
-- sent it, when, and the deal's revision it produced. Refused events change nothing and are
-- not kept.
CREATE TABLE events (
    id          BIGSERIAL PRIMARY KEY,
    deal_id     TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    payload     TEXT    NOT NULL,
    sent_by     TEXT,
    at          TEXT    NOT NULL,
    revision    BIGINT NOT NULL
);
CREATE INDEX events_deal ON events (deal_id, id);
