-- The queues are claimed from the front of their pending rows, however many rows they hold sent
-- or given up on: an index of the pending rows only, in the order they go out, so that a claim
-- reads as many entries as it takes. A subscription's deliveries by their own, so that one
-- subscription's claim does not walk another's backlog.
CREATE INDEX outbox_pending ON outbox (next_ms, id) WHERE status = 'pending';
CREATE INDEX outbox_dead ON outbox (id) WHERE status = 'dead';
DROP INDEX outbox_due;
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (webhook, next_ms, id)
    WHERE status = 'pending';
DROP INDEX webhook_deliveries_due;

-- A deal's messages (its erasure, the keys of a step tried again) without walking the outbox.
CREATE INDEX outbox_deal ON outbox (deal_id);
