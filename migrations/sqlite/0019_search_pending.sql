-- Issue 15: the message index written once per commit instead of once per message.
--
-- FTS5 writes its pending terms to disk as a new segment whenever a savepoint opens while it is part
-- of the transaction — and SQLite opens one for every statement that fires a trigger (a statement
-- journal), as well as for each webhook's own savepoint in a group commit. Written by a trigger per
-- message, the index therefore grew by one tiny segment (and its merges) per stored message: most
-- of what it cost the webhook path. Now the trigger only notes the message's id here, in the same
-- transaction; the writer indexes every noted message with one statement just before the commit
-- (src/store/search-index.ts), so the index is still written in the message's own transaction —
-- no lag, nothing missing after a crash — as one segment per commit. A noted id left by a writer
-- that did not index (a tool writing to the database by hand) is indexed at the next commit or start.
CREATE TABLE `message_search_pending` (`id` integer PRIMARY KEY NOT NULL);
--> statement-breakpoint
DROP TRIGGER `message_search_ai`;
--> statement-breakpoint
CREATE TRIGGER `message_search_ai` AFTER INSERT ON `messages`
WHEN new.type <> 'reaction' AND (new.direction <> 'system' OR new.type = 'note')
BEGIN
  INSERT OR IGNORE INTO message_search_pending(id) VALUES (new.id);
END;
--> statement-breakpoint
DROP TRIGGER `message_search_au`;
--> statement-breakpoint
-- An edit indexes the message at once; a note of it still pending would index it a second time.
CREATE TRIGGER `message_search_au` AFTER UPDATE OF `text`, `media`, `data`, `type`, `direction` ON `messages`
BEGIN
  DELETE FROM message_search_pending WHERE id = old.id;
  DELETE FROM message_search WHERE rowid = old.id;
  INSERT INTO message_search(rowid, body) SELECT new.id, trim(
    coalesce(new.text, '')
    || ' ' || coalesce(CASE WHEN json_valid(new.media) THEN json_extract(new.media, '$.filename') END, '')
    || ' ' || CASE WHEN new.type = 'location' AND coalesce(new.text, '') = '' AND json_valid(new.data)
         THEN coalesce(json_extract(new.data, '$.name'), '') || ' ' || coalesce(json_extract(new.data, '$.address'), '') ELSE '' END)
  WHERE new.type <> 'reaction' AND (new.direction <> 'system' OR new.type = 'note');
END;
