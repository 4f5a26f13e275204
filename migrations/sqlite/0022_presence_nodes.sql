CREATE TABLE `presence_nodes` (
	`node_id` text NOT NULL,
	`user_id` integer NOT NULL,
	`workspace_id` integer NOT NULL,
	`streaming` integer NOT NULL,
	`seen_at` integer NOT NULL,
	PRIMARY KEY(`node_id`, `user_id`)
);
--> statement-breakpoint
CREATE INDEX `presence_nodes_seen_idx` ON `presence_nodes` (`seen_at`);