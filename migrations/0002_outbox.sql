-- File events, written in the same transaction as the change they describe, published by the
-- relay in seq (commit) order and marked published only once the broker confirmed them. The
-- file fields are a snapshot: the event describes the file as it was at that commit.
CREATE TABLE outbox (
  seq            INTEGER PRIMARY KEY AUTOINCREMENT,
  id             TEXT NOT NULL UNIQUE,
  type           TEXT NOT NULL,
  occurred_at    INTEGER NOT NULL,
  actor          TEXT NOT NULL,
  file_id        TEXT NOT NULL,
  file_name      TEXT NOT NULL,
  file_size      INTEGER NOT NULL,
  content_type   TEXT NOT NULL,
  sha256         TEXT NOT NULL,
  version        INTEGER NOT NULL,
  owner          TEXT NOT NULL,
  target_user_id TEXT,
  permission     TEXT,
  published_at   INTEGER
);
CREATE INDEX outbox_unpublished ON outbox(seq) WHERE published_at IS NULL;
CREATE INDEX outbox_published ON outbox(published_at) WHERE published_at IS NOT NULL;
