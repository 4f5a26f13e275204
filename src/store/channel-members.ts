// Channel membership (issue 13): which agents work which channels. Admins see every
// channel whatever this table says; the access rules that read it live in the domain.
// Written as units of work (store/unit.ts): the same SQL on SQLite and PostgreSQL (issue 17).
import { all, run, type Q } from './unit.ts'

const OF_USER = 'SELECT channel_id AS id FROM channel_members WHERE user_id = ? ORDER BY channel_id'
const OF_CHANNEL = 'SELECT user_id AS id FROM channel_members WHERE channel_id = ? ORDER BY user_id'
const ALL = 'SELECT user_id AS "userId", channel_id AS "channelId" FROM channel_members ORDER BY user_id, channel_id'
const CLEAR = 'DELETE FROM channel_members WHERE user_id = ?'
// Only channels of the user's own workspace: an id from another one is silently not a
// membership. ON CONFLICT DO NOTHING, not INSERT OR IGNORE: the portable form.
const ADD = `INSERT INTO channel_members (channel_id, user_id)
  SELECT ch.id, u.id FROM channels ch JOIN users u ON u.workspace_id = ch.workspace_id WHERE ch.id = ? AND u.id = ?
  ON CONFLICT DO NOTHING`

export class ChannelMembersRepo {
  *channelIdsOf(userId: number): Q<number[]> {
    return (yield* all<{ id: number }>(OF_USER, [userId])).map((r) => r.id)
  }

  *membersOf(channelId: number): Q<number[]> {
    return (yield* all<{ id: number }>(OF_CHANNEL, [channelId])).map((r) => r.id)
  }

  /** Every membership, by user: one read for a people list. */
  *byUser(): Q<Map<number, number[]>> {
    const out = new Map<number, number[]>()
    for (const r of yield* all<{ userId: number; channelId: number }>(ALL)) {
      let list = out.get(r.userId)
      if (!list) out.set(r.userId, (list = []))
      list.push(r.channelId)
    }
    return out
  }

  /** Replaces the user's channels with these (inside the unit's transaction). */
  *set(userId: number, channelIds: readonly number[]): Q<void> {
    yield* run(CLEAR, [userId])
    for (const id of new Set(channelIds)) yield* run(ADD, [id, userId])
  }
}
