ALTER TABLE `channels` ADD `credentials_status` text;--> statement-breakpoint
ALTER TABLE `channels` ADD `credentials_checked_at` integer;--> statement-breakpoint
ALTER TABLE `channels` ADD `credentials_detail` text;