-- Full-text search (issue 15) on PostgreSQL (issue 17): SQLite's FTS5 index (migrations/sqlite
-- 0013_search.sql, 0019_search_pending.sql: read them) as tsvectors with GIN indexes, written by
-- triggers in the same transaction as the message or contact itself (no lag, nothing missing
-- after a crash). src/store/search.ts reads them; src/domain/search/query.ts stays the one parser.
--
-- Everything lives in its own schema, `search`: these are the database's own objects, not
-- drizzle tables, so the drizzle schemas (and test/schema-parity.test.ts, which compares the
-- `public` schema with them) do not list them — as SQLite's FTS5 tables are not listed either.
--
-- Words are what FTS5's `unicode61 remove_diacritics 2` makes of a text: runs of letters and
-- digits, lower case, without diacritics (São = sao). Here search.fold does that with unaccent,
-- lower() and [:alnum:] (which needs the database's ctype to be a UTF-8 locale, as C.UTF-8 or
-- en_US.UTF-8: under plain C only ASCII letters count), and the 'simple' configuration (no
-- stop words, no stemming) makes the lexemes. Queries are folded by the same function
-- (search.query), so a word is always found the way it was stored.
--
-- Differences from SQLite, and why:
-- * One table per kind (message_doc, contact_doc) keyed by the row's id, not a column on
--   messages/contacts: the drizzle schemas stay the same on both databases.
-- * A message's index row is written by its own trigger at once (no pending list as in
--   SQLite's 0019: that list exists for FTS5's segments, which PostgreSQL does not have).
-- * The phone digits are matched with LIKE '%digits%' and a pg_trgm GIN index (FTS5: trigram).
-- * A contact's name and profile name are one tsvector, so a phrase could span the end of one
--   and the start of the other (FTS5 keeps columns apart): a rare, harmless extra match.
-- * A text is indexed up to its first 100,000 characters (a tsvector holds at most 1 MB).
-- * media and data are JSON written by the app (JSON.stringify): read with ::jsonb, as the report
--   triggers do; SQLite's json_valid() guard has no cheap equivalent before PostgreSQL 16.
-- Search reads text as UTF-8 (unaccent's rules, the word classes): a database in another encoding
-- (SQL_ASCII, from an initdb without a UTF-8 locale) is refused here, in words, rather than
-- searched wrongly.
DO $$
BEGIN
  IF current_setting('server_encoding') <> 'UTF8' THEN
    RAISE EXCEPTION 'Parley needs a UTF8 PostgreSQL database (this one is %): create it with ENCODING ''UTF8'' (initdb -E UTF8 --locale=C.UTF-8)',
      current_setting('server_encoding');
  END IF;
END
$$;
--> statement-breakpoint
CREATE EXTENSION IF NOT EXISTS unaccent;
--> statement-breakpoint
CREATE EXTENSION IF NOT EXISTS pg_trgm;
--> statement-breakpoint
CREATE SCHEMA IF NOT EXISTS search;
--> statement-breakpoint
-- The extensions' objects are named with their schema (wherever they were installed), so the
-- triggers work whatever search_path the writing session has.
DO $do$
DECLARE
  s text := (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'unaccent');
BEGIN
  EXECUTE format(
    $f$CREATE FUNCTION search.fold(t text) RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $b$
      SELECT btrim(regexp_replace(lower(%I.unaccent(%L::regdictionary, left(coalesce(t, ''), 100000))), '[^[:alnum:]]+', ' ', 'g'))
    $b$$f$,
    s, s || '.unaccent');
END
$do$;
--> statement-breakpoint
-- The tsquery of a search's terms (query.ts): every term must match; a term's words follow one
-- another (<->, FTS5's phrase); the last word of the last term is a prefix (:*) when `last_prefix`.
-- Built from folded words only (letters and digits), so nothing typed is read as tsquery syntax.
CREATE FUNCTION search.query(terms text[], last_prefix boolean) RETURNS tsquery LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
  q tsquery;
  term_q tsquery;
  lexeme tsquery;
  words text[];
  n int := coalesce(array_length(terms, 1), 0);
  m int;
BEGIN
  FOR i IN 1 .. n LOOP
    words := array_remove(string_to_array(search.fold(terms[i]), ' '), '');
    m := coalesce(array_length(words, 1), 0);
    term_q := NULL;
    FOR j IN 1 .. m LOOP
      lexeme := (quote_literal(words[j]) || CASE WHEN last_prefix AND i = n AND j = m THEN ':*' ELSE '' END)::tsquery;
      term_q := CASE WHEN term_q IS NULL THEN lexeme ELSE term_q <-> lexeme END;
    END LOOP;
    IF term_q IS NOT NULL THEN
      q := CASE WHEN q IS NULL THEN term_q ELSE q && term_q END;
    END IF;
  END LOOP;
  -- No word at all (the parser keeps no such term; a defence): NULL, which finds nothing (an
  -- empty tsquery would too, with a NOTICE on every call).
  RETURN q;
END
$$;
--> statement-breakpoint
-- What a message is found by: src/domain/search/text.ts searchTextOf(), as SQLite's triggers write it.
CREATE FUNCTION search.message_tsv(body text, media text, data text, kind text) RETURNS tsvector LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT to_tsvector('simple', search.fold(
    coalesce(body, '')
    || ' ' || coalesce(CASE WHEN media IS NOT NULL THEN media::jsonb ->> 'filename' END, '')
    || ' ' || CASE WHEN kind = 'location' AND coalesce(body, '') = '' AND data IS NOT NULL
         THEN coalesce(data::jsonb ->> 'name', '') || ' ' || coalesce(data::jsonb ->> 'address', '') ELSE '' END))
$$;
--> statement-breakpoint
CREATE TABLE search.message_doc (id bigint PRIMARY KEY, doc tsvector NOT NULL);
--> statement-breakpoint
CREATE INDEX message_doc_doc ON search.message_doc USING gin (doc);
--> statement-breakpoint
-- Reactions and the team's system lines (resolved, reopened) are not indexed; notes are.
CREATE FUNCTION search.message_doc_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    TRUNCATE search.message_doc;
  ELSIF TG_OP = 'DELETE' THEN
    DELETE FROM search.message_doc WHERE id = OLD.id;
  ELSIF NEW.type <> 'reaction' AND (NEW.direction <> 'system' OR NEW.type = 'note') THEN
    INSERT INTO search.message_doc (id, doc) VALUES (NEW.id, search.message_tsv(NEW.text, NEW.media, NEW.data, NEW.type))
      ON CONFLICT (id) DO UPDATE SET doc = excluded.doc;
  ELSIF TG_OP = 'UPDATE' THEN
    DELETE FROM search.message_doc WHERE id = OLD.id;
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER message_search_ai AFTER INSERT ON messages FOR EACH ROW
  WHEN (NEW.type <> 'reaction' AND (NEW.direction <> 'system' OR NEW.type = 'note'))
  EXECUTE FUNCTION search.message_doc_write();
--> statement-breakpoint
-- Only when what is indexed changed (a status update touches none of these columns).
CREATE TRIGGER message_search_au AFTER UPDATE OF text, media, data, type, direction ON messages FOR EACH ROW
  WHEN (OLD.text IS DISTINCT FROM NEW.text OR OLD.media IS DISTINCT FROM NEW.media OR OLD.data IS DISTINCT FROM NEW.data
    OR OLD.type IS DISTINCT FROM NEW.type OR OLD.direction IS DISTINCT FROM NEW.direction)
  EXECUTE FUNCTION search.message_doc_write();
--> statement-breakpoint
CREATE TRIGGER message_search_ad AFTER DELETE ON messages FOR EACH ROW EXECUTE FUNCTION search.message_doc_write();
--> statement-breakpoint
CREATE TRIGGER message_search_at AFTER TRUNCATE ON messages FOR EACH STATEMENT EXECUTE FUNCTION search.message_doc_write();
--> statement-breakpoint
-- Contacts: names (words, diacritics ignored) and phone digits (any run of 3+ digits matches, so
-- "98765" finds +55 11 98765-4321). A WhatsApp contact without a stored phone is found by its
-- wa_id, which is its number.
CREATE TABLE search.contact_doc (id bigint PRIMARY KEY, doc tsvector NOT NULL, digits text NOT NULL);
--> statement-breakpoint
CREATE INDEX contact_doc_doc ON search.contact_doc USING gin (doc);
--> statement-breakpoint
DO $do$
DECLARE
  s text := (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm');
BEGIN
  EXECUTE format('CREATE INDEX contact_doc_digits ON search.contact_doc USING gin (digits %I.gin_trgm_ops)', s);
END
$do$;
--> statement-breakpoint
CREATE FUNCTION search.contact_doc_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    TRUNCATE search.contact_doc;
  ELSIF TG_OP = 'DELETE' THEN
    DELETE FROM search.contact_doc WHERE id = OLD.id;
  ELSE
    INSERT INTO search.contact_doc (id, doc, digits) VALUES (NEW.id,
      to_tsvector('simple', search.fold(NEW.name)) || to_tsvector('simple', search.fold(NEW.profile_name)),
      replace(replace(replace(replace(replace(replace(
        coalesce(NEW.phone, CASE WHEN NEW.kind = 'whatsapp' THEN NEW.external_id END, ''), '+', ''), ' ', ''), '-', ''), '(', ''), ')', ''), '.', ''))
      ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, digits = excluded.digits;
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER contact_search_ai AFTER INSERT ON contacts FOR EACH ROW EXECUTE FUNCTION search.contact_doc_write();
--> statement-breakpoint
CREATE TRIGGER contact_search_au AFTER UPDATE OF name, profile_name, phone, external_id, kind ON contacts FOR EACH ROW
  WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.profile_name IS DISTINCT FROM NEW.profile_name OR OLD.phone IS DISTINCT FROM NEW.phone
    OR OLD.external_id IS DISTINCT FROM NEW.external_id OR OLD.kind IS DISTINCT FROM NEW.kind)
  EXECUTE FUNCTION search.contact_doc_write();
--> statement-breakpoint
CREATE TRIGGER contact_search_ad AFTER DELETE ON contacts FOR EACH ROW EXECUTE FUNCTION search.contact_doc_write();
--> statement-breakpoint
CREATE TRIGGER contact_search_at AFTER TRUNCATE ON contacts FOR EACH STATEMENT EXECUTE FUNCTION search.contact_doc_write();
--> statement-breakpoint
-- Rows already there (a database migrated after db:copy filled it): indexed now, as SQLite's 0013 does.
INSERT INTO search.message_doc (id, doc)
  SELECT id, search.message_tsv(text, media, data, type) FROM messages
   WHERE type <> 'reaction' AND (direction <> 'system' OR type = 'note');
--> statement-breakpoint
INSERT INTO search.contact_doc (id, doc, digits)
  SELECT id, to_tsvector('simple', search.fold(name)) || to_tsvector('simple', search.fold(profile_name)),
    replace(replace(replace(replace(replace(replace(
      coalesce(phone, CASE WHEN kind = 'whatsapp' THEN external_id END, ''), '+', ''), ' ', ''), '-', ''), '(', ''), ')', ''), '.', '')
    FROM contacts;
