-- Who may see an event on the live streams, fixed at commit time (the owner, the users the file
-- was shared with then, and a share's target), space separated. After a delete or a revoke the
-- audience can no longer be derived from the current tables.
ALTER TABLE outbox ADD COLUMN audience TEXT NOT NULL DEFAULT '';
