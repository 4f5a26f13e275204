CREATE INDEX `messages_customer_idx` ON `messages` (`conversation_id`,`id`) WHERE direction = 'in' AND type <> 'reaction';--> statement-breakpoint
-- Upgrading from one shared unread count: everyone's read position starts where that count says
-- (the customer's messages after it are the unread ones), not at "all unread".
WITH `ranked` AS (
  SELECT `conversation_id` AS `cid`, `id`, row_number() OVER (PARTITION BY `conversation_id` ORDER BY `id` DESC) AS `rn`
  FROM `messages` WHERE `direction` = 'in' AND `type` <> 'reaction'
)
INSERT OR IGNORE INTO `conversation_reads` (`conversation_id`, `user_id`, `read_through_id`, `read_at`)
SELECT `v`.`id`, `u`.`id`,
  coalesce((SELECT `r`.`id` FROM `ranked` `r` WHERE `r`.`cid` = `v`.`id` AND `r`.`rn` = `v`.`unread_count` + 1), 0),
  `v`.`updated_at`
FROM `conversations` `v` JOIN `users` `u` ON `u`.`workspace_id` = `v`.`workspace_id`;--> statement-breakpoint
-- A customer whose message is the last one is waiting since it arrived.
UPDATE `conversations` SET `waiting_since` = `last_inbound_at` WHERE `last_message_direction` = 'in' AND `waiting_since` IS NULL;
