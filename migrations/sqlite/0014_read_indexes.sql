DROP INDEX `report_episodes_opened_idx`;--> statement-breakpoint
DROP INDEX `report_episodes_resolved_idx`;--> statement-breakpoint
DROP INDEX `report_episodes_reply_idx`;--> statement-breakpoint
CREATE INDEX `report_episodes_opened_idx` ON `report_episodes` (`workspace_id`,`opened_at`,`reopened`,`opened_assignee_id`,`channel_id`);--> statement-breakpoint
CREATE INDEX `report_episodes_resolved_idx` ON `report_episodes` (`workspace_id`,`resolved_at`,`opened_at`,`resolved_by`,`resolved_assignee_id`,`channel_id`);--> statement-breakpoint
CREATE INDEX `report_episodes_reply_idx` ON `report_episodes` (`workspace_id`,`first_reply_at`,`first_in_at`,`first_reply_by`,`channel_id`);--> statement-breakpoint
CREATE INDEX `conversations_contact_idx` ON `conversations` (`contact_id`);