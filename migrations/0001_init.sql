-- Users are addressed by name: shares and X-User-Id name them.
CREATE TABLE users (
  id         TEXT PRIMARY KEY,
  is_admin   INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Only the SHA-256 of a key is stored; the key itself is shown once.
CREATE TABLE api_keys (
  id         TEXT PRIMARY KEY,
  user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  key_hash   BLOB NOT NULL UNIQUE,
  label      TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);
CREATE INDEX api_keys_user ON api_keys(user_id);

-- seq orders listings (newest first) and is the pagination cursor; id is the public id.
CREATE TABLE files (
  seq          INTEGER PRIMARY KEY AUTOINCREMENT,
  id           TEXT NOT NULL UNIQUE,
  owner        TEXT NOT NULL REFERENCES users(id),
  name         TEXT NOT NULL,
  size         INTEGER NOT NULL,
  content_type TEXT NOT NULL,
  sha256       TEXT NOT NULL,
  blob         TEXT NOT NULL UNIQUE,
  version      INTEGER NOT NULL,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL
);
CREATE INDEX files_owner ON files(owner, seq);

CREATE TABLE shares (
  file_id    TEXT NOT NULL REFERENCES files(id) ON DELETE CASCADE,
  user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  permission TEXT NOT NULL CHECK (permission IN ('read', 'write')),
  granted_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (file_id, user_id)
) WITHOUT ROWID;
CREATE INDEX shares_user ON shares(user_id, file_id);
