-- An administrator can disable a user: their keys, browser sessions and stream tickets are then
-- refused until they are enabled again. Their files, shares and keys stay as they are.
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
