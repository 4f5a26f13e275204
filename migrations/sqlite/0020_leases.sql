CREATE TABLE `leases` (
	`name` text PRIMARY KEY NOT NULL,
	`owner` text NOT NULL,
	`fence` integer DEFAULT 0 NOT NULL,
	`expires_at` integer NOT NULL
);
