CREATE TABLE "presence_nodes" (
	"node_id" text NOT NULL,
	"user_id" bigint NOT NULL,
	"workspace_id" bigint NOT NULL,
	"streaming" boolean NOT NULL,
	"seen_at" bigint NOT NULL,
	CONSTRAINT "presence_nodes_node_id_user_id_pk" PRIMARY KEY("node_id","user_id")
);
--> statement-breakpoint
CREATE INDEX "presence_nodes_seen_idx" ON "presence_nodes" USING btree ("seen_at");