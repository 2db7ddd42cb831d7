-- A user's listing walks the files shared with them newest first, page by page: the shared
-- file's seq is kept on the share, so that walk is a range on one index (user_id, file_seq)
-- instead of reading every share of the user and sorting them for each page. A file's seq
-- never changes (replacing content updates the row in place).
ALTER TABLE shares ADD COLUMN file_seq INTEGER NOT NULL DEFAULT 0;
UPDATE shares SET file_seq = (SELECT seq FROM files WHERE files.id = shares.file_id);
CREATE INDEX shares_user_seq ON shares(user_id, file_seq);
DROP INDEX shares_user;
