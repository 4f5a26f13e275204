-- Reports (issue 15): the facts a report reads, kept by the database in the same transaction
-- as the write they describe, whichever code path made it (the inbox writer, a status change,
-- a snooze). Each costs one indexed insert or update. See report_episodes in schema.ts.

-- A customer's message: counted in its hour; opens an episode when none is open (a new
-- conversation, or one resolved before: a reopening), else is its first message if it had none.
CREATE TRIGGER `report_message_in` AFTER INSERT ON `messages`
WHEN NEW.direction = 'in' AND NEW.type <> 'reaction'
BEGIN
  INSERT INTO report_message_counts (workspace_id, hour, channel_id, user_id, messages_in)
  VALUES (NEW.workspace_id, NEW.timestamp - NEW.timestamp % 3600000, NEW.channel_id,
    COALESCE((SELECT assignee_id FROM conversations WHERE id = NEW.conversation_id), 0), 1)
  ON CONFLICT (workspace_id, hour, channel_id, user_id) DO UPDATE SET messages_in = messages_in + 1;
  INSERT INTO report_episodes (workspace_id, conversation_id, channel_id, opened_at, reopened, opened_assignee_id, first_in_at)
  SELECT NEW.workspace_id, NEW.conversation_id, NEW.channel_id, NEW.timestamp,
    EXISTS (SELECT 1 FROM report_episodes WHERE conversation_id = NEW.conversation_id),
    (SELECT assignee_id FROM conversations WHERE id = NEW.conversation_id), NEW.timestamp
  WHERE NOT EXISTS (SELECT 1 FROM report_episodes WHERE conversation_id = NEW.conversation_id AND resolved_at IS NULL);
  UPDATE report_episodes SET first_in_at = NEW.timestamp
  WHERE conversation_id = NEW.conversation_id AND resolved_at IS NULL AND first_in_at IS NULL;
END;
--> statement-breakpoint
-- A person's reply (an agent's, or the business's own from the phone app or the Page inbox;
-- never a campaign's or an automatic one): counted in its hour for its sender.
CREATE TRIGGER `report_message_out` AFTER INSERT ON `messages`
WHEN NEW.direction = 'out' AND NEW.type <> 'reaction'
  AND json_extract(NEW.context, '$.campaign') IS NULL AND json_extract(NEW.context, '$.automatic') IS NULL
BEGIN
  INSERT INTO report_message_counts (workspace_id, hour, channel_id, user_id, messages_out)
  VALUES (NEW.workspace_id, NEW.timestamp - NEW.timestamp % 3600000, NEW.channel_id, COALESCE(NEW.sender_user_id, 0), 1)
  ON CONFLICT (workspace_id, hour, channel_id, user_id) DO UPDATE SET messages_out = messages_out + 1;
END;
--> statement-breakpoint
-- The customer stopped waiting: the inbox writer clears waiting_since exactly when a person
-- replied (writer.ts waitingAfter), with that reply as the newest message. The open
-- episode's first reply, if it had none.
CREATE TRIGGER `report_first_reply` AFTER UPDATE OF waiting_since ON `conversations`
WHEN OLD.waiting_since IS NOT NULL AND NEW.waiting_since IS NULL
BEGIN
  UPDATE report_episodes SET
    first_reply_at = COALESCE((SELECT timestamp FROM messages WHERE id = NEW.last_message_id), NEW.updated_at),
    first_reply_by = (SELECT sender_user_id FROM messages WHERE id = NEW.last_message_id)
  WHERE conversation_id = NEW.id AND resolved_at IS NULL AND first_reply_at IS NULL AND first_in_at IS NOT NULL;
END;
--> statement-breakpoint
-- Resolved: the open episode ends, with the assignee then.
CREATE TRIGGER `report_resolved` AFTER UPDATE OF status ON `conversations`
WHEN NEW.status = 'resolved' AND OLD.status <> 'resolved'
BEGIN
  UPDATE report_episodes SET resolved_at = NEW.updated_at, resolved_assignee_id = NEW.assignee_id
  WHERE conversation_id = NEW.id AND resolved_at IS NULL;
END;
--> statement-breakpoint
-- Reopened by a person (a customer's message already opened its episode in report_message_in).
CREATE TRIGGER `report_reopened` AFTER UPDATE OF status ON `conversations`
WHEN OLD.status = 'resolved' AND NEW.status <> 'resolved'
BEGIN
  INSERT INTO report_episodes (workspace_id, conversation_id, channel_id, opened_at, reopened, opened_assignee_id)
  SELECT NEW.workspace_id, NEW.id, NEW.channel_id, NEW.updated_at,
    EXISTS (SELECT 1 FROM report_episodes WHERE conversation_id = NEW.id), NEW.assignee_id
  WHERE NOT EXISTS (SELECT 1 FROM report_episodes WHERE conversation_id = NEW.id AND resolved_at IS NULL);
END;
--> statement-breakpoint
-- Who resolved it: the timeline's line, written right after the status (conversation-status.ts).
CREATE TRIGGER `report_resolved_by` AFTER INSERT ON `messages`
WHEN NEW.direction = 'system' AND NEW.type = 'activity' AND json_extract(NEW.data, '$.action') = 'resolved'
BEGIN
  UPDATE report_episodes SET resolved_by = NEW.sender_user_id
  WHERE id = (SELECT max(id) FROM report_episodes WHERE conversation_id = NEW.conversation_id)
    AND resolved_at IS NOT NULL AND resolved_by IS NULL;
END;
--> statement-breakpoint
-- Existing databases: the facts rebuilt once from the history. Episodes are cut at each
-- "resolved" line of the timeline; one opens at the first customer message or "reopened" line
-- after it. Assignees of the past are unknown (null).
INSERT INTO report_message_counts (workspace_id, hour, channel_id, user_id, messages_in, messages_out)
SELECT m.workspace_id, m.timestamp - m.timestamp % 3600000, m.channel_id,
  CASE WHEN m.direction = 'in' THEN COALESCE(c.assignee_id, 0) ELSE COALESCE(m.sender_user_id, 0) END,
  SUM(m.direction = 'in'), SUM(m.direction = 'out')
FROM messages m JOIN conversations c ON c.id = m.conversation_id
WHERE m.type <> 'reaction' AND (m.direction = 'in'
  OR (m.direction = 'out' AND json_extract(m.context, '$.campaign') IS NULL AND json_extract(m.context, '$.automatic') IS NULL))
GROUP BY 1, 2, 3, 4;
--> statement-breakpoint
INSERT INTO report_episodes (workspace_id, conversation_id, channel_id, opened_at, reopened, first_in_at, first_reply_at, first_reply_by, resolved_at, resolved_by)
WITH ev AS (
  SELECT id, workspace_id, conversation_id, channel_id,
    CASE WHEN direction = 'system' THEN json_extract(data, '$.action') ELSE direction END AS kind
  FROM messages
  WHERE type <> 'reaction' AND (direction = 'in'
    OR (direction = 'out' AND json_extract(context, '$.campaign') IS NULL AND json_extract(context, '$.automatic') IS NULL)
    OR (direction = 'system' AND type = 'activity' AND json_extract(data, '$.action') IN ('resolved', 'reopened')))
),
g AS (
  SELECT *, COALESCE(SUM(kind = 'resolved') OVER (PARTITION BY conversation_id ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS grp
  FROM ev
),
g2 AS (
  SELECT *, MIN(CASE WHEN kind = 'in' THEN id END) OVER (PARTITION BY conversation_id, grp ORDER BY id) AS in_before FROM g
),
ep AS (
  SELECT workspace_id, conversation_id, channel_id, grp,
    MIN(CASE WHEN kind IN ('in', 'reopened') THEN id END) AS open_id,
    MIN(CASE WHEN kind = 'in' THEN id END) AS first_in_id,
    MIN(CASE WHEN kind = 'out' AND in_before IS NOT NULL THEN id END) AS reply_id,
    MAX(CASE WHEN kind = 'resolved' THEN id END) AS resolved_id
  FROM g2 GROUP BY conversation_id, grp
)
SELECT ep.workspace_id, ep.conversation_id, ep.channel_id, o.timestamp, ep.grp > 0, fi.timestamp, fr.timestamp, fr.sender_user_id,
  r.timestamp, r.sender_user_id
FROM ep
JOIN messages o ON o.id = ep.open_id
LEFT JOIN messages fi ON fi.id = ep.first_in_id
LEFT JOIN messages fr ON fr.id = ep.reply_id
LEFT JOIN messages r ON r.id = ep.resolved_id
ORDER BY ep.conversation_id, ep.grp;
