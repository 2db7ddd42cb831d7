-- A user's inbox: written in the same transaction as the change that concerns them (a file
-- shared with them, updated while shared with them, or their access revoked).
CREATE TABLE notifications (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  id         TEXT NOT NULL UNIQUE,
  user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  type       TEXT NOT NULL,
  title      TEXT NOT NULL,
  file_id    TEXT NOT NULL,
  file_name  TEXT NOT NULL,
  actor      TEXT NOT NULL,
  event_id   TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  read_at    INTEGER
);
CREATE INDEX notifications_user ON notifications(user_id, seq);
CREATE INDEX notifications_unread ON notifications(user_id) WHERE read_at IS NULL;
