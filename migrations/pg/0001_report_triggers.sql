-- Reports (issue 15) on PostgreSQL (issue 17): the facts a report reads (report_episodes,
-- report_message_counts), kept by the database in the same transaction as the write they
-- describe, exactly as SQLite's triggers do (migrations/sqlite/0012_report_triggers.sql: read
-- it for what each fact means). One trigger per table, filtered by its WHEN so that a write
-- without a fact (a reaction, a conversation's other columns) calls no function.
--
-- Differences from SQLite, and why:
-- * SQLite fires a table's triggers newest first; one function per table here does the same
--   work in that order (on conversations: reopened, resolved, then first reply — an UPDATE that
--   resolves and clears waiting_since at once records no first reply, as on SQLite).
-- * SQLite serializes writers; PostgreSQL's run at once. A customer's message locks its
--   conversation's row (as the UPDATE that follows in the inbox writer would) before looking for
--   the open episode, so two messages of one conversation in concurrent transactions never open
--   two episodes: the second waits, and its next statement sees the first's.
-- * json_extract(x, '$.k') IS NULL is true for a missing key and for a JSON null: here jsonb's
--   type is read, and its 'null' counts as none.
-- * `SET LOCAL parley.copying = 'on'` turns the facts off for a transaction: db:copy copies the
--   facts SQLite kept along with the messages, which must not make them twice.
-- * No backfill: a PostgreSQL database gets its rows from db:copy (facts included) or from
--   Parley with these triggers in place.
CREATE FUNCTION report_message_facts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  ctx jsonb;
BEGIN
  IF current_setting('parley.copying', true) = 'on' THEN
    RETURN NULL;
  END IF;
  IF NEW.direction = 'in' THEN
    -- A customer's message: counted in its hour; opens an episode when none is open (a new
    -- conversation, or one resolved before: a reopening), else is its first message if it had none.
    PERFORM 1 FROM conversations WHERE id = NEW.conversation_id FOR NO KEY UPDATE;
    INSERT INTO report_message_counts (workspace_id, hour, channel_id, user_id, messages_in)
    VALUES (NEW.workspace_id, NEW."timestamp" - NEW."timestamp" % 3600000, NEW.channel_id,
      COALESCE((SELECT assignee_id FROM conversations WHERE id = NEW.conversation_id), 0), 1)
    ON CONFLICT (workspace_id, hour, channel_id, user_id)
      DO UPDATE SET messages_in = report_message_counts.messages_in + 1;
    INSERT INTO report_episodes (workspace_id, conversation_id, channel_id, opened_at, reopened, opened_assignee_id, first_in_at)
    SELECT NEW.workspace_id, NEW.conversation_id, NEW.channel_id, NEW."timestamp",
      CASE WHEN EXISTS (SELECT 1 FROM report_episodes WHERE conversation_id = NEW.conversation_id) THEN 1 ELSE 0 END,
      (SELECT assignee_id FROM conversations WHERE id = NEW.conversation_id), NEW."timestamp"
    WHERE NOT EXISTS (SELECT 1 FROM report_episodes WHERE conversation_id = NEW.conversation_id AND resolved_at IS NULL);
    UPDATE report_episodes SET first_in_at = NEW."timestamp"
    WHERE conversation_id = NEW.conversation_id AND resolved_at IS NULL AND first_in_at IS NULL;
  ELSIF NEW.direction = 'out' THEN
    -- A person's reply (an agent's, or the business's own from the phone app or the Page inbox;
    -- never a campaign's or an automatic one): counted in its hour for its sender.
    ctx := NEW.context::jsonb;
    IF COALESCE(jsonb_typeof(ctx -> 'campaign'), 'null') = 'null'
      AND COALESCE(jsonb_typeof(ctx -> 'automatic'), 'null') = 'null' THEN
      INSERT INTO report_message_counts (workspace_id, hour, channel_id, user_id, messages_out)
      VALUES (NEW.workspace_id, NEW."timestamp" - NEW."timestamp" % 3600000, NEW.channel_id, COALESCE(NEW.sender_user_id, 0), 1)
      ON CONFLICT (workspace_id, hour, channel_id, user_id)
        DO UPDATE SET messages_out = report_message_counts.messages_out + 1;
    END IF;
  ELSIF NEW.direction = 'system' AND NEW.type = 'activity' THEN
    -- Who resolved it: the timeline's line, written right after the status (conversation-status.ts).
    IF NEW.data::jsonb ->> 'action' = 'resolved' THEN
      UPDATE report_episodes SET resolved_by = NEW.sender_user_id
      WHERE id = (SELECT max(id) FROM report_episodes WHERE conversation_id = NEW.conversation_id)
        AND resolved_at IS NOT NULL AND resolved_by IS NULL;
    END IF;
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER report_message_facts AFTER INSERT ON messages
FOR EACH ROW WHEN (NEW.type <> 'reaction')
EXECUTE FUNCTION report_message_facts();
--> statement-breakpoint
CREATE FUNCTION report_conversation_facts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('parley.copying', true) = 'on' THEN
    RETURN NULL;
  END IF;
  -- Reopened by a person (a customer's message already opened its episode in report_message_facts).
  IF OLD.status = 'resolved' AND NEW.status <> 'resolved' THEN
    INSERT INTO report_episodes (workspace_id, conversation_id, channel_id, opened_at, reopened, opened_assignee_id)
    SELECT NEW.workspace_id, NEW.id, NEW.channel_id, NEW.updated_at,
      CASE WHEN EXISTS (SELECT 1 FROM report_episodes WHERE conversation_id = NEW.id) THEN 1 ELSE 0 END, NEW.assignee_id
    WHERE NOT EXISTS (SELECT 1 FROM report_episodes WHERE conversation_id = NEW.id AND resolved_at IS NULL);
  END IF;
  -- Resolved: the open episode ends, with the assignee then.
  IF NEW.status = 'resolved' AND OLD.status <> 'resolved' THEN
    UPDATE report_episodes SET resolved_at = NEW.updated_at, resolved_assignee_id = NEW.assignee_id
    WHERE conversation_id = NEW.id AND resolved_at IS NULL;
  END IF;
  -- The customer stopped waiting: the inbox writer clears waiting_since exactly when a person
  -- replied, with that reply as the newest message. The open episode's first reply, if it had none.
  IF OLD.waiting_since IS NOT NULL AND NEW.waiting_since IS NULL THEN
    UPDATE report_episodes SET
      first_reply_at = COALESCE((SELECT "timestamp" FROM messages WHERE id = NEW.last_message_id), NEW.updated_at),
      first_reply_by = (SELECT sender_user_id FROM messages WHERE id = NEW.last_message_id)
    WHERE conversation_id = NEW.id AND resolved_at IS NULL AND first_reply_at IS NULL AND first_in_at IS NOT NULL;
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER report_conversation_facts AFTER UPDATE OF waiting_since, status ON conversations
FOR EACH ROW WHEN ((OLD.waiting_since IS NOT NULL AND NEW.waiting_since IS NULL)
  OR (OLD.status = 'resolved') <> (NEW.status = 'resolved'))
EXECUTE FUNCTION report_conversation_facts();
