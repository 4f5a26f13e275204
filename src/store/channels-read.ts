// Channel lookups for sending: by id (the outbox worker, replies) and a workspace's
// WhatsApp number (templates and campaigns without a conversation). The channel
// directory's own reads and writes (settings) are in channels.ts.
import { and, eq } from 'drizzle-orm'
import type { ChannelKind } from '../events/types.ts'
import type { Db } from './db.ts'
import type { ChannelRow } from './inbox-store.ts'
import { channels } from './schema.ts'

export function channelById(db: Db, id: number): ChannelRow | undefined {
  return db.select().from(channels).where(eq(channels.id, id)).get()
}

/** The workspace's first enabled channel of a kind (its WhatsApp number). */
export function firstEnabledChannel(db: Db, workspaceId: number, kind: ChannelKind): ChannelRow | undefined {
  return db
    .select()
    .from(channels)
    .where(and(eq(channels.workspaceId, workspaceId), eq(channels.kind, kind), eq(channels.enabled, true)))
    .orderBy(channels.id)
    .get()
}
