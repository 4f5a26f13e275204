// Reports (issue 15): reads of the facts the database keeps at write time (report_episodes,
// report_message_counts: migration report_triggers), each a range of an index, never a
// scan of the messages. Every read takes the workspace id, which comes from the session.
import type { Statement } from 'better-sqlite3'
import type { Db } from './db.ts'

export interface EpisodeFact {
  id: number
  channelId: number
  openedAt: number
  reopened: number
  openedAssigneeId: number | null
  firstInAt: number | null
  firstReplyAt: number | null
  firstReplyBy: number | null
  resolvedAt: number | null
  resolvedBy: number | null
  resolvedAssigneeId: number | null
}

export interface MessageCountFact {
  hour: number
  channelId: number
  userId: number
  messagesIn: number
  messagesOut: number
}

export interface WaitingFact {
  channelId: number
  assigneeId: number | null
  waitingSince: number
}

export interface CampaignFact {
  channelId: number | null
  createdBy: number | null
  queuedAt: number
  delivered: number
  replied: number
}

const EPISODE = `id, channel_id AS channelId, opened_at AS openedAt, reopened, opened_assignee_id AS openedAssigneeId,
  first_in_at AS firstInAt, first_reply_at AS firstReplyAt, first_reply_by AS firstReplyBy, resolved_at AS resolvedAt,
  resolved_by AS resolvedBy, resolved_assignee_id AS resolvedAssigneeId FROM report_episodes`

export class ReportsRepo {
  private readonly episodesStmt: Statement
  private readonly countsStmt: Statement
  private readonly waitingStmt: Statement
  private readonly campaignsStmt: Statement
  private readonly usersStmt: Statement
  private readonly channelsStmt: Statement

  constructor(db: Db) {
    const c = db.$client
    // Anything that happened in the range: opened, answered or resolved in it (three index ranges).
    this.episodesStmt = c.prepare(
      `SELECT ${EPISODE} WHERE workspace_id = @ws AND
         ((opened_at >= @from AND opened_at < @to) OR (resolved_at >= @from AND resolved_at < @to)
          OR (first_reply_at >= @from AND first_reply_at < @to))`,
    )
    this.countsStmt = c.prepare(
      `SELECT hour, channel_id AS channelId, user_id AS userId, messages_in AS messagesIn, messages_out AS messagesOut
       FROM report_message_counts WHERE workspace_id = ? AND hour >= ? AND hour < ?`,
    )
    this.waitingStmt = c.prepare(
      `SELECT channel_id AS channelId, assignee_id AS assigneeId, waiting_since AS waitingSince FROM conversations
       WHERE workspace_id = ? AND status = 'open' AND waiting_since IS NOT NULL`,
    )
    // A campaign's message counts as delivered once the customer's phone had it.
    this.campaignsStmt = c.prepare(
      `SELECT k.channel_id AS channelId, k.created_by AS createdBy, r.queued_at AS queuedAt,
         (m.status IN ('delivered', 'read', 'played') OR m.delivered_at IS NOT NULL OR m.read_at IS NOT NULL) AS delivered,
         (r.replied_at IS NOT NULL) AS replied
       FROM campaign_recipients r JOIN campaigns k ON k.id = r.campaign_id JOIN messages m ON m.id = r.message_id
       WHERE r.workspace_id = ? AND r.queued_at >= ? AND r.queued_at < ?`,
    )
    this.usersStmt = c.prepare('SELECT id, name FROM users WHERE workspace_id = ? ORDER BY name, id')
    this.channelsStmt = c.prepare('SELECT id, name FROM channels WHERE workspace_id = ? ORDER BY name, id')
  }

  episodes(workspaceId: number, from: number, to: number): EpisodeFact[] {
    return this.episodesStmt.all({ ws: workspaceId, from, to }) as EpisodeFact[]
  }

  /** Hour buckets starting in [from, to). */
  messageCounts(workspaceId: number, from: number, to: number): MessageCountFact[] {
    return this.countsStmt.all(workspaceId, from, to) as MessageCountFact[]
  }

  /** Open conversations whose customer waits for a person's reply now. */
  waiting(workspaceId: number): WaitingFact[] {
    return this.waitingStmt.all(workspaceId) as WaitingFact[]
  }

  /** Campaign messages queued in [from, to), delivered and replied to or not. */
  campaignRecipients(workspaceId: number, from: number, to: number): CampaignFact[] {
    return this.campaignsStmt.all(workspaceId, from, to) as CampaignFact[]
  }

  users(workspaceId: number): Array<{ id: number; name: string }> {
    return this.usersStmt.all(workspaceId) as Array<{ id: number; name: string }>
  }

  channels(workspaceId: number): Array<{ id: number; name: string }> {
    return this.channelsStmt.all(workspaceId) as Array<{ id: number; name: string }>
  }
}
