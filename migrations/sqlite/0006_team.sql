CREATE TABLE `channel_members` (
	`channel_id` integer NOT NULL,
	`user_id` integer NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	PRIMARY KEY(`channel_id`, `user_id`),
	FOREIGN KEY (`channel_id`) REFERENCES `channels`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `channel_members_user_idx` ON `channel_members` (`user_id`);--> statement-breakpoint
CREATE TABLE `conversation_reads` (
	`conversation_id` integer NOT NULL,
	`user_id` integer NOT NULL,
	`read_through_id` integer NOT NULL,
	`read_at` integer NOT NULL,
	PRIMARY KEY(`conversation_id`, `user_id`),
	FOREIGN KEY (`conversation_id`) REFERENCES `conversations`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `conversation_reads_user_idx` ON `conversation_reads` (`user_id`);--> statement-breakpoint
ALTER TABLE `channels` ADD `auto_assign` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `channels` ADD `last_assigned_user_id` integer;--> statement-breakpoint
ALTER TABLE `conversations` ADD `assignee_id` integer REFERENCES users(id);--> statement-breakpoint
ALTER TABLE `conversations` ADD `waiting_since` integer;--> statement-breakpoint
ALTER TABLE `conversations` ADD `away_replied_at` integer;--> statement-breakpoint
ALTER TABLE `events` ADD `channel_id` integer;--> statement-breakpoint
ALTER TABLE `events` ADD `user_id` integer;--> statement-breakpoint
ALTER TABLE `users` ADD `availability` text DEFAULT 'online' NOT NULL;--> statement-breakpoint
ALTER TABLE `workspaces` ADD `assignment_cap` integer DEFAULT 10 NOT NULL;--> statement-breakpoint
ALTER TABLE `workspaces` ADD `timezone` text DEFAULT 'UTC' NOT NULL;--> statement-breakpoint
ALTER TABLE `workspaces` ADD `business_hours` text;--> statement-breakpoint
ALTER TABLE `workspaces` ADD `away_message` text;--> statement-breakpoint
ALTER TABLE `workspaces` ADD `greeting_message` text;--> statement-breakpoint
-- Events written before audiences existed: a conversation's and its messages' belong to its channel.
UPDATE `events` SET `channel_id` = json_extract(`payload`, '$.conversation.channelId') WHERE `type` IN ('message.created', 'conversation.updated');--> statement-breakpoint
UPDATE `events` SET `channel_id` = (SELECT `m`.`channel_id` FROM `messages` `m` WHERE `m`.`id` = json_extract(`events`.`payload`, '$.message.id')) WHERE `type` = 'message.updated';
