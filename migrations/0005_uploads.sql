-- Resumable uploads (the chunked API and tus). Bytes live in <data>/uploads/<id> until the upload
-- completes and its file is created; a completed or expired upload keeps its record until
-- expires_at so that its URL still answers (tus GET, 410 Gone) for a while.
CREATE TABLE uploads (
  id              TEXT PRIMARY KEY,
  owner           TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  protocol        TEXT NOT NULL CHECK (protocol IN ('chunked', 'tus')),
  kind            TEXT NOT NULL CHECK (kind IN ('single', 'partial', 'final')),
  state           TEXT NOT NULL CHECK (state IN ('open', 'completed', 'expired')),
  filename        TEXT NOT NULL,
  content_type    TEXT NOT NULL,
  size            INTEGER,            -- NULL: length deferred (tus)
  chunk_size      INTEGER NOT NULL,   -- chunked only
  "offset"        INTEGER NOT NULL,   -- tus only: bytes durably received
  sha256          TEXT NOT NULL,      -- declared by the client, may be ''
  metadata        TEXT NOT NULL,      -- tus Upload-Metadata as received
  replace_file_id TEXT NOT NULL,
  replace_etag    TEXT NOT NULL,
  parts           TEXT NOT NULL,      -- final tus uploads: partial upload ids, space separated
  file_id         TEXT NOT NULL,      -- completed: the file it became
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  expires_at      INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX uploads_owner_state ON uploads(owner, state);
CREATE INDEX uploads_state_expiry ON uploads(state, expires_at);

-- Chunks of a chunked upload that are durably stored.
CREATE TABLE upload_chunks (
  upload_id TEXT NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
  idx       INTEGER NOT NULL,
  PRIMARY KEY (upload_id, idx)
) WITHOUT ROWID;
