CREATE TABLE `campaign_recipients` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`campaign_id` integer NOT NULL,
	`workspace_id` integer NOT NULL,
	`contact_id` integer NOT NULL,
	`state` text NOT NULL,
	`skip_reason` text,
	`skip_detail` text,
	`message_id` integer,
	`queued_at` integer,
	`replied_at` integer,
	`reply_message_id` integer,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	FOREIGN KEY (`campaign_id`) REFERENCES `campaigns`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`workspace_id`) REFERENCES `workspaces`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`contact_id`) REFERENCES `contacts`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`message_id`) REFERENCES `messages`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `campaign_recipients_uq` ON `campaign_recipients` (`campaign_id`,`contact_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `campaign_recipients_message_uq` ON `campaign_recipients` (`message_id`);--> statement-breakpoint
CREATE INDEX `campaign_recipients_state_idx` ON `campaign_recipients` (`campaign_id`,`state`,`id`);--> statement-breakpoint
CREATE INDEX `campaign_recipients_contact_idx` ON `campaign_recipients` (`contact_id`,`id`);--> statement-breakpoint
CREATE TABLE `campaigns` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`workspace_id` integer NOT NULL,
	`channel_id` integer,
	`name` text NOT NULL,
	`status` text NOT NULL,
	`template_name` text NOT NULL,
	`template_language` text NOT NULL,
	`params` text NOT NULL,
	`audience` text NOT NULL,
	`scheduled_at` integer,
	`started_at` integer,
	`resumed_at` integer,
	`paused_at` integer,
	`pause_code` text,
	`pause_reason` text,
	`completed_at` integer,
	`cancelled_at` integer,
	`note` text,
	`follow_up_of` integer,
	`created_by` integer,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	`updated_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	FOREIGN KEY (`workspace_id`) REFERENCES `workspaces`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`channel_id`) REFERENCES `channels`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `campaigns_ws_idx` ON `campaigns` (`workspace_id`,`id`);--> statement-breakpoint
CREATE INDEX `campaigns_status_idx` ON `campaigns` (`status`);--> statement-breakpoint
CREATE TABLE `contact_list_members` (
	`list_id` integer NOT NULL,
	`contact_id` integer NOT NULL,
	FOREIGN KEY (`list_id`) REFERENCES `contact_lists`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`contact_id`) REFERENCES `contacts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `contact_list_members_uq` ON `contact_list_members` (`list_id`,`contact_id`);--> statement-breakpoint
CREATE INDEX `contact_list_members_contact_idx` ON `contact_list_members` (`contact_id`);--> statement-breakpoint
CREATE TABLE `contact_lists` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`workspace_id` integer NOT NULL,
	`name` text NOT NULL,
	`report` text,
	`created_by` integer,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	FOREIGN KEY (`workspace_id`) REFERENCES `workspaces`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `contact_lists_ws_idx` ON `contact_lists` (`workspace_id`,`id`);--> statement-breakpoint
CREATE TABLE `contact_tags` (
	`workspace_id` integer NOT NULL,
	`contact_id` integer NOT NULL,
	`tag` text NOT NULL,
	FOREIGN KEY (`workspace_id`) REFERENCES `workspaces`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`contact_id`) REFERENCES `contacts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `contact_tags_uq` ON `contact_tags` (`contact_id`,`tag`);--> statement-breakpoint
CREATE INDEX `contact_tags_ws_tag_idx` ON `contact_tags` (`workspace_id`,`tag`,`contact_id`);--> statement-breakpoint
ALTER TABLE `contacts` ADD `opted_out_at` integer;--> statement-breakpoint
ALTER TABLE `contacts` ADD `opt_out_source` text;--> statement-breakpoint
ALTER TABLE `contacts` ADD `opt_out_text` text;--> statement-breakpoint
ALTER TABLE `contacts` ADD `opt_out_reversed_at` integer;--> statement-breakpoint
ALTER TABLE `outbox` ADD `priority` integer DEFAULT 0 NOT NULL;