CREATE TABLE `report_episodes` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`workspace_id` integer NOT NULL,
	`conversation_id` integer NOT NULL,
	`channel_id` integer NOT NULL,
	`opened_at` integer NOT NULL,
	`reopened` integer DEFAULT 0 NOT NULL,
	`opened_assignee_id` integer,
	`first_in_at` integer,
	`first_reply_at` integer,
	`first_reply_by` integer,
	`resolved_at` integer,
	`resolved_by` integer,
	`resolved_assignee_id` integer
);
--> statement-breakpoint
CREATE INDEX `report_episodes_conv_idx` ON `report_episodes` (`conversation_id`,`id`);--> statement-breakpoint
CREATE INDEX `report_episodes_opened_idx` ON `report_episodes` (`workspace_id`,`opened_at`);--> statement-breakpoint
CREATE INDEX `report_episodes_resolved_idx` ON `report_episodes` (`workspace_id`,`resolved_at`);--> statement-breakpoint
CREATE INDEX `report_episodes_reply_idx` ON `report_episodes` (`workspace_id`,`first_reply_at`);--> statement-breakpoint
CREATE TABLE `report_message_counts` (
	`workspace_id` integer NOT NULL,
	`hour` integer NOT NULL,
	`channel_id` integer NOT NULL,
	`user_id` integer NOT NULL,
	`messages_in` integer DEFAULT 0 NOT NULL,
	`messages_out` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`workspace_id`, `hour`, `channel_id`, `user_id`)
);
