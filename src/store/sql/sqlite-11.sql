-- What went out is forgotten after `[outbox] keep_days`, the oldest first: an index of the rows
-- that went out only, by when, so that each turn of forgetting reads as many entries as it
-- forgets however much is kept.
CREATE INDEX outbox_sent ON outbox (sent_at) WHERE status = 'sent';
CREATE INDEX webhook_deliveries_sent ON webhook_deliveries (sent_at) WHERE status = 'sent';
