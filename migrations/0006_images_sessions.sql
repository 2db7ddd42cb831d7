-- Pictures accepted by image intake keep their dimensions and format; NULL for other files and
-- again once the content is replaced.
ALTER TABLE files ADD COLUMN image_width INTEGER;
ALTER TABLE files ADD COLUMN image_height INTEGER;
ALTER TABLE files ADD COLUMN image_format TEXT;

-- Browser sign-in sessions (the HttpOnly cookie). Only the token's SHA-256 is stored. A session
-- is tied to the key that opened it: revoking the key ends the session too.
CREATE TABLE sessions (
  token_hash BLOB PRIMARY KEY,
  user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  key_id     TEXT REFERENCES api_keys(id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_expiry ON sessions(expires_at);
