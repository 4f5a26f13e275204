ALTER TABLE `users` ADD `streaming` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `users` ADD `seen_at` integer;