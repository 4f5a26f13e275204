-- Full-text search (issue 15). Custom migration: drizzle-kit cannot express FTS5 tables or triggers.
--
-- message_search: one row per searchable message (rowid = messages.id), contentless (the text lives in
-- messages; contentless_delete lets triggers remove a row). Triggers on messages write it, so the index
-- is written inside the same transaction as the message itself: no lag, nothing missing after a crash.
-- What is indexed is src/domain/search/text.ts searchTextOf() — this SQL is its twin, and
-- test/search-text.test.ts proves both agree for every message type: the body / caption / reply title
-- (messages.text), a file's name (media.filename), a location's name and address when it has no text.
-- Reactions and the team's system lines (resolved, reopened) are not indexed; notes are.
CREATE VIRTUAL TABLE `message_search` USING fts5(`body`, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2');
--> statement-breakpoint
CREATE TRIGGER `message_search_ai` AFTER INSERT ON `messages`
WHEN new.type <> 'reaction' AND (new.direction <> 'system' OR new.type = 'note')
BEGIN
  INSERT INTO message_search(rowid, body) VALUES (new.id, trim(
    coalesce(new.text, '')
    || ' ' || coalesce(CASE WHEN json_valid(new.media) THEN json_extract(new.media, '$.filename') END, '')
    || ' ' || CASE WHEN new.type = 'location' AND coalesce(new.text, '') = '' AND json_valid(new.data)
         THEN coalesce(json_extract(new.data, '$.name'), '') || ' ' || coalesce(json_extract(new.data, '$.address'), '') ELSE '' END));
END;
--> statement-breakpoint
CREATE TRIGGER `message_search_ad` AFTER DELETE ON `messages`
BEGIN
  DELETE FROM message_search WHERE rowid = old.id;
END;
--> statement-breakpoint
CREATE TRIGGER `message_search_au` AFTER UPDATE OF `text`, `media`, `data`, `type`, `direction` ON `messages`
BEGIN
  DELETE FROM message_search WHERE rowid = old.id;
  INSERT INTO message_search(rowid, body) SELECT new.id, trim(
    coalesce(new.text, '')
    || ' ' || coalesce(CASE WHEN json_valid(new.media) THEN json_extract(new.media, '$.filename') END, '')
    || ' ' || CASE WHEN new.type = 'location' AND coalesce(new.text, '') = '' AND json_valid(new.data)
         THEN coalesce(json_extract(new.data, '$.name'), '') || ' ' || coalesce(json_extract(new.data, '$.address'), '') ELSE '' END)
  WHERE new.type <> 'reaction' AND (new.direction <> 'system' OR new.type = 'note');
END;
--> statement-breakpoint
INSERT INTO message_search(rowid, body) SELECT id, trim(
    coalesce(text, '')
    || ' ' || coalesce(CASE WHEN json_valid(media) THEN json_extract(media, '$.filename') END, '')
    || ' ' || CASE WHEN type = 'location' AND coalesce(text, '') = '' AND json_valid(data)
         THEN coalesce(json_extract(data, '$.name'), '') || ' ' || coalesce(json_extract(data, '$.address'), '') ELSE '' END)
  FROM messages WHERE type <> 'reaction' AND (direction <> 'system' OR type = 'note');
--> statement-breakpoint
-- Contacts: names (word search, diacritics ignored) and phone digits (trigram: any run of 3+ digits
-- matches, so "98765" finds +55 11 98765-4321). rowid = contacts.id. A WhatsApp contact without a
-- stored phone is found by its wa_id, which is its number.
CREATE VIRTUAL TABLE `contact_search` USING fts5(`name`, `profile_name`, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2');
--> statement-breakpoint
CREATE VIRTUAL TABLE `contact_phone_search` USING fts5(`digits`, content='', contentless_delete=1, tokenize='trigram');
--> statement-breakpoint
CREATE TRIGGER `contact_search_ai` AFTER INSERT ON `contacts`
BEGIN
  INSERT INTO contact_search(rowid, name, profile_name) VALUES (new.id, coalesce(new.name, ''), coalesce(new.profile_name, ''));
  INSERT INTO contact_phone_search(rowid, digits) VALUES (new.id, replace(replace(replace(replace(replace(replace(
    coalesce(new.phone, CASE WHEN new.kind = 'whatsapp' THEN new.external_id END, ''), '+', ''), ' ', ''), '-', ''), '(', ''), ')', ''), '.', ''));
END;
--> statement-breakpoint
CREATE TRIGGER `contact_search_ad` AFTER DELETE ON `contacts`
BEGIN
  DELETE FROM contact_search WHERE rowid = old.id;
  DELETE FROM contact_phone_search WHERE rowid = old.id;
END;
--> statement-breakpoint
CREATE TRIGGER `contact_search_au` AFTER UPDATE OF `name`, `profile_name`, `phone`, `external_id`, `kind` ON `contacts`
BEGIN
  DELETE FROM contact_search WHERE rowid = old.id;
  DELETE FROM contact_phone_search WHERE rowid = old.id;
  INSERT INTO contact_search(rowid, name, profile_name) VALUES (new.id, coalesce(new.name, ''), coalesce(new.profile_name, ''));
  INSERT INTO contact_phone_search(rowid, digits) VALUES (new.id, replace(replace(replace(replace(replace(replace(
    coalesce(new.phone, CASE WHEN new.kind = 'whatsapp' THEN new.external_id END, ''), '+', ''), ' ', ''), '-', ''), '(', ''), ')', ''), '.', ''));
END;
--> statement-breakpoint
INSERT INTO contact_search(rowid, name, profile_name) SELECT id, coalesce(name, ''), coalesce(profile_name, '') FROM contacts;
--> statement-breakpoint
INSERT INTO contact_phone_search(rowid, digits) SELECT id, replace(replace(replace(replace(replace(replace(
    coalesce(phone, CASE WHEN kind = 'whatsapp' THEN external_id END, ''), '+', ''), ' ', ''), '-', ''), '(', ''), ')', ''), '.', '') FROM contacts;
