CREATE TABLE `two_factor` (
	`user_id` integer PRIMARY KEY NOT NULL,
	`workspace_id` integer NOT NULL,
	`secret` text,
	`pending_secret` text,
	`enabled_at` integer,
	`last_step` integer,
	`recovery_codes` text,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `two_factor_policy` (
	`workspace_id` integer PRIMARY KEY NOT NULL,
	`required` integer DEFAULT false NOT NULL,
	`updated_at` integer NOT NULL
);
