// Assignment, presence's memory, the send guard and snooze as units of work (issue 17): the
// same rows, refusals and answers on SQLite and PostgreSQL from their real migrations;
// another workspace's rows absent; a snooze woken by two PostgreSQL sessions at once wakes
// once. What still goes through the inbox writer (not yet a unit) refuses by name on
// PostgreSQL and leaves nothing half-written.
import t from 'tap'
import type { Emitter } from '../src/events/event-log.ts'
import { inboxRepos } from '../src/store/inbox-store.ts'
import { InboxWriter } from '../src/domain/inbox/writer.ts'
import type { AppError } from '../src/errors.ts'
import type { Access } from '../src/domain/accounts/access.ts'
import { Assignment } from '../src/domain/team/assignment.ts'
import { Presence } from '../src/domain/team/presence.ts'
import { Snoozes } from '../src/domain/inbox/snooze.ts'
import { NEWER_LIMIT, SendGuard } from '../src/domain/sending/send-guard.ts'
import { AssignmentRepo } from '../src/store/assignment.ts'
import type { ChannelRow } from '../src/store/channels.ts'
import { PresenceRepo } from '../src/store/presence.ts'
import { SendGuardRepo } from '../src/store/send-guard.ts'
import { SnoozeRepo } from '../src/store/snooze.ts'
import type { PgRunner } from '../src/store/runner.ts'
import { all, type Q, step } from '../src/store/unit.ts'
import type { ConversationDTO } from '../src/events/types.ts'
import { type DialectDb, onBoth, pgDb, insertId } from './helpers/dialects.ts'

const WS = 1
const OTHER_WS = 2
const T0 = 1_780_000_000_000

interface Seed {
  ann: number
  bea: number
  cid: number
  gone: number
  zed: number
  auto: number
  manual: number
  otherChannel: number
  /** Unassigned open conversations on the auto channel, the longest waiting first. */
  pool: number[]
  /** Bea's: open, pending, snoozed, resolved. */
  beas: number[]
  otherConv: number
}

/**
 * Workspace 1: Ann (admin), Bea and Cid (agents), Gone (deactivated); an auto-assign channel
 * (Bea, Cid, Gone members) and a manual one (Bea). Workspace 2: Zed, a channel and a conversation.
 */
async function seed(db: DialectDb): Promise<Seed> {
  const user = (ws: number, email: string, name: string, role: string, disabledAt: number | null = null) =>
    insertId(db, 'INSERT INTO users (workspace_id, email, name, password_hash, role, disabled_at) VALUES (?, ?, ?, ?, ?, ?)', [
      ws,
      email,
      name,
      'x',
      role,
      disabledAt,
    ])
  const channel = (ws: number, external: string, auto: boolean) =>
    insertId(db, `INSERT INTO channels (workspace_id, kind, external_id, name, auto_assign) VALUES (?, 'whatsapp', ?, ?, ?)`, [
      ws,
      external,
      external,
      auto,
    ])
  let n = 0
  const conv = async (ws: number, channelId: number, status: string, assignee: number | null, waitingSince: number | null) => {
    n++
    const contact = await insertId(db, `INSERT INTO contacts (workspace_id, kind, external_id, name) VALUES (?, 'whatsapp', ?, ?)`, [
      ws,
      `4915100000${n}`,
      `C${n}`,
    ])
    return insertId(
      db,
      `INSERT INTO conversations (workspace_id, channel_id, contact_id, status, assignee_id, waiting_since, last_activity_at, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [ws, channelId, contact, status, assignee, waitingSince, T0 + n, T0 + n, T0 + n],
    )
  }
  const ann = await user(WS, 'ann@example.com', 'Ann Admin', 'admin')
  const bea = await user(WS, 'bea@example.com', 'Bea Agent', 'agent')
  const cid = await user(WS, 'cid@example.com', 'Cid Agent', 'agent')
  const gone = await user(WS, 'gone@example.com', 'Gone Agent', 'agent', T0)
  const zed = await user(OTHER_WS, 'zed@example.com', 'Zed Other', 'admin')
  const auto = await channel(WS, 'phone-auto', true)
  const manual = await channel(WS, 'phone-manual', false)
  const otherChannel = await channel(OTHER_WS, 'phone-other', true)
  for (const [c, u] of [
    [auto, bea],
    [auto, cid],
    [auto, gone],
    [manual, bea],
    [otherChannel, zed],
  ] as const)
    await db.exec('INSERT INTO channel_members (channel_id, user_id) VALUES (?, ?)', [c, u])
  await db.exec('UPDATE workspaces SET assignment_cap = ? WHERE id = ?', [3, WS])
  // Waiting since T0+50, T0+10, and none: the third falls back to its creation (T0+3), the longest wait.
  const pool = [await conv(WS, auto, 'open', null, T0 + 50), await conv(WS, auto, 'open', null, T0 + 10)]
  pool.push(await conv(WS, auto, 'open', null, null))
  const beas = [
    await conv(WS, auto, 'open', bea, null),
    await conv(WS, manual, 'pending', bea, null),
    await conv(WS, auto, 'snoozed', bea, null),
    await conv(WS, auto, 'resolved', bea, null),
  ]
  await conv(WS, manual, 'open', null, T0) // the manual channel's pool: never automatic
  const otherConv = await conv(OTHER_WS, otherChannel, 'open', null, T0)
  return { ann, bea, cid, gone, zed, auto, manual, otherChannel, pool, beas, otherConv }
}

t.test('the assignment repository: the same people, loads, pools and rotation on SQLite and PostgreSQL', async (t) => {
  const repo = new AssignmentRepo()
  const { sqlite, pg } = await onBoth(t, async (db) => {
    const s = await seed(db)
    const r = await db.runner.read(function* () {
      return {
        bea: yield* repo.person(WS, s.bea),
        gone: yield* repo.person(WS, s.gone),
        zedFromWs: yield* repo.person(WS, s.zed),
        member: yield* repo.isMember(s.auto, s.bea),
        notMember: yield* repo.isMember(s.manual, s.cid),
        active: (yield* repo.activeMembers(s.auto)).map((p) => p.name),
        loads: [...(yield* repo.openLoads(WS))],
        loadOfBea: yield* repo.openLoadOf(WS, s.bea),
        cap: yield* repo.cap(WS),
        noCap: yield* repo.cap(99),
        rotation: yield* repo.rotation(s.auto),
        manualRotation: yield* repo.rotation(s.manual),
        conv: (yield* repo.conversation(WS, s.pool[0]!))?.status,
        otherConv: yield* repo.conversation(WS, s.otherConv),
        waitingForCid: (yield* repo.waitingFor(WS, s.cid, 10)).map((c) => c.id),
        waitingForCidFromOther: (yield* repo.waitingFor(OTHER_WS, s.cid, 10)).map((c) => c.id),
        poolOf: (yield* repo.poolOf(s.auto, 2)).map((c) => c.id),
        openOfBea: (yield* repo.openOf(WS, s.bea)).map((c) => c.status),
        openOfBeaFromOther: (yield* repo.openOf(OTHER_WS, s.bea)).length,
        autoChannelsOfBea: yield* repo.autoChannelsOf(s.bea),
      }
    })
    await db.runner.transact(() => repo.setLastAssigned(s.auto, s.cid))
    const after = await db.runner.read(() => repo.rotation(s.auto))
    // Ids named by the seed, so the two databases' answers compare whatever ids they gave.
    const named = (keys: (keyof Seed)[]) => (id: number) => keys.find((k) => s[k] === id) ?? `?${id}`
    const person = named(['ann', 'bea', 'cid', 'gone', 'zed'])
    const channel = named(['auto', 'manual', 'otherChannel'])
    const conv = (id: number) => `conv${[...s.pool, ...s.beas].indexOf(id)}`
    return {
      ...r,
      bea: r.bea && { ...r.bea, id: person(r.bea.id) },
      gone: r.gone && { ...r.gone, id: person(r.gone.id) },
      loads: r.loads.map(([u, n]) => [person(u), n]),
      waitingForCid: r.waitingForCid.map(conv),
      poolOf: r.poolOf.map(conv),
      autoChannelsOfBea: r.autoChannelsOfBea.map(channel),
      after: { ...after, lastAssigned: after.lastAssigned === null ? null : person(after.lastAssigned) },
    }
  })
  t.same(sqlite.bea, { id: 'bea', name: 'Bea Agent', role: 'agent', availability: 'online', disabled: false })
  t.equal(sqlite.gone?.disabled, true, 'deactivated: a boolean on SQLite too')
  t.equal(sqlite.zedFromWs, undefined, "another workspace's person is absent")
  t.equal(sqlite.member, true)
  t.equal(sqlite.notMember, false)
  t.same(sqlite.active, ['Bea Agent', 'Cid Agent'], 'active members, ascending, the deactivated left out')
  t.same(sqlite.loads, [['bea', 1]], 'open conversations only')
  t.equal(sqlite.loadOfBea, 1)
  t.equal(sqlite.cap, 3)
  t.equal(sqlite.noCap, 0)
  t.same(sqlite.rotation, { autoAssign: true, lastAssigned: null })
  t.same(sqlite.manualRotation, { autoAssign: false, lastAssigned: null })
  t.equal(sqlite.conv, 'open')
  t.equal(sqlite.otherConv, undefined, "another workspace's conversation is absent")
  t.same(sqlite.waitingForCid, ['conv2', 'conv1', 'conv0'], 'the longest waiting first, auto channels only')
  t.same(sqlite.waitingForCidFromOther, [])
  t.same(sqlite.poolOf, ['conv2', 'conv1'])
  t.same(sqlite.openOfBea, ['open', 'pending', 'snoozed'])
  t.equal(sqlite.openOfBeaFromOther, 0)
  t.same(sqlite.autoChannelsOfBea, ['auto'])
  t.same(sqlite.after, { autoAssign: true, lastAssigned: 'cid' })
  if (pg) t.same(pg, sqlite, 'PostgreSQL answers exactly what SQLite does')
})

t.test("presence's memory: marks and the recent people the same on both", async (t) => {
  const repo = new PresenceRepo()
  const { sqlite, pg } = await onBoth(t, async (db) => {
    const s = await seed(db)
    await db.runner.transact(function* () {
      yield* repo.mark(s.bea, true, T0 + 1) // still streaming
      yield* repo.mark(s.cid, false, T0 + 100) // closed recently
      yield* repo.mark(s.ann, false, T0 - 100_000) // long ago
      yield* repo.mark(s.gone, true, T0 + 1) // deactivated: never
      yield* repo.mark(s.zed, true, T0 + 1) // the other workspace's, with its workspace
    })
    const recent = await db.runner.read(() => repo.recent(T0))
    const names = { [s.bea]: 'bea', [s.cid]: 'cid', [s.ann]: 'ann', [s.gone]: 'gone', [s.zed]: 'zed' }
    // The domain over it: who was present at the stop counts as online after a restart.
    const presence = new Presence({
      offlineAfterMs: 60_000,
      now: () => T0 + 200,
      memory: { repo, runner: db.runner, onError: (err) => t.error(err) },
    })
    t.teardown(() => presence.stop())
    await presence.start()
    const online = presence.onlineUsers(WS).map((id) => names[id]!)
    // A mark through the domain (fire and forget, in order): Ann's open, then her close.
    presence.streams(s.ann, WS, true)
    presence.streams(s.ann, WS, false)
    await presence.stop() // waits for the marks in flight
    const ann = await db.runner.read(() => repo.recent(T0 + 150))
    return { recent: recent.map((r) => [names[r.userId], r.workspaceId]), online, annAfter: ann.map((r) => names[r.userId]).sort() }
  })
  t.same(sqlite.recent, [
    ['bea', WS],
    ['cid', WS],
    ['zed', OTHER_WS],
  ])
  t.same(sqlite.online, ['bea', 'cid'], 'the domain restores them through its runner, this workspace only')
  t.same(sqlite.annAfter, ['ann', 'bea', 'zed'], "the domain's marks are written, the close last (Ann seen at the stop, not streaming)")
  if (pg) t.same(pg, sqlite, 'PostgreSQL answers exactly what SQLite does')
})

t.test('the send guard: the same newer messages, senders and refusals on both', async (t) => {
  const repo = new SendGuardRepo()
  const { sqlite, pg } = await onBoth(t, async (db) => {
    const s = await seed(db)
    const conv = s.pool[0]!
    let ts = 0
    const msg = (direction: string, type: string, text: string, sender: number | null, context: unknown = null) =>
      insertId(
        db,
        `INSERT INTO messages (workspace_id, conversation_id, channel_id, direction, type, text, sender_user_id, context, status, "timestamp", created_at, updated_at, media)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'delivered', ?, ?, ?, ?)`,
        [WS, conv, s.auto, direction, type, text, sender, context === null ? null : JSON.stringify(context), ++ts, ts, ts, null],
      )
    const seen = await msg('in', 'text', 'hello', null)
    await msg('out', 'text', 'mine', s.bea) // one's own: not newer
    await msg('in', 'reaction', '👍', null) // a reaction: never
    await msg('out', 'text', 'away', null, { automatic: 'away' }) // automatic: never
    const fromPhone = await msg('out', 'text', 'from the phone app', null, { echo: true })
    const cidReply = await msg('out', 'text', "Cid's reply", s.cid)
    await msg('system', 'note', 'my note', s.bea)
    const cidNote = await msg('system', 'note', "Cid's note", s.cid)
    const zedLine = await msg('out', 'text', 'a line by someone of another workspace', s.zed)
    const customer = await msg('in', 'text', 'are you there?', null)
    const r = await db.runner.read(function* () {
      return {
        newer: yield* repo.newerThan(conv, seen, s.bea, NEWER_LIMIT),
        two: yield* repo.newerThan(conv, seen, s.bea, 2),
        none: yield* repo.newerThan(conv, customer, s.bea, NEWER_LIMIT),
        names: yield* repo.names(WS, [s.cid, s.zed, s.cid, 999_999]),
      }
    })
    const guard = new SendGuard(repo)
    const convDto = { id: conv, assignee: { id: s.cid, name: 'Cid Agent' } } as unknown as ConversationDTO
    const channel = (assigneeOnly: boolean) => ({ id: s.auto, assigneeOnly }) as unknown as ChannelRow
    const refusal = async (unit: () => Q<void>) =>
      db.runner.read(unit).then(
        () => null,
        (err: AppError) => ({ code: err.code, status: err.statusCode, message: err.message, extra: err.extra }),
      )
    const who = { workspaceId: WS, userId: s.bea }
    const ids = {
      [seen]: 'seen',
      [fromPhone]: 'fromPhone',
      [cidReply]: 'cidReply',
      [cidNote]: 'cidNote',
      [zedLine]: 'zedLine',
      [customer]: 'customer',
    }
    const rel = (m: { id: number; conversationId: number; senderUserId: number | null }) => ({
      ...m,
      id: ids[m.id],
      conversationId: 'conv',
      senderUserId: m.senderUserId === null ? null : m.senderUserId === s.cid ? 'cid' : m.senderUserId === s.zed ? 'zed' : m.senderUserId,
    })
    const changed = await refusal(() => guard.checkUnit(who, convDto, channel(false), { seenMessageId: seen }))
    return {
      newer: r.newer.map(rel),
      two: r.two.map((m) => ids[m.id]),
      none: r.none,
      names: Object.entries(r.names).map(([id, name]) => [Number(id) === s.cid ? 'cid' : id, name]),
      changed: changed && {
        ...changed,
        extra: {
          newer: (changed.extra!.newer as never[]).map(rel),
          senders: Object.values(changed.extra!.senders as Record<number, string>),
        },
      },
      forced: await refusal(() => guard.checkUnit(who, convDto, channel(false), { seenMessageId: seen, force: true })),
      upToDate: await refusal(() => guard.checkUnit(who, convDto, channel(false), { seenMessageId: customer })),
      assigneeOnly: (await refusal(() => guard.checkUnit(who, convDto, channel(true), {})))?.code,
      assigneeReplies: await refusal(() => guard.checkUnit({ workspaceId: WS, userId: s.cid }, convDto, channel(true), {})),
    }
  })
  t.same(
    sqlite.newer.map((m) => m.id),
    ['fromPhone', 'cidReply', 'cidNote', 'zedLine', 'customer'],
    "oldest first: the phone's echo, a colleague's reply and note, the customer; never one's own, reactions or automatic replies",
  )
  t.same((sqlite.newer[0] as unknown as { context: unknown }).context, { echo: true }, 'JSON decoded')
  t.same(sqlite.two, ['zedLine', 'customer'], 'the newest ones when more came')
  t.same(sqlite.none, [])
  t.same(sqlite.names, [['cid', 'Cid Agent']], "another workspace's person and nobody's id are left out")
  t.equal(sqlite.changed?.code, 'CONVERSATION_CHANGED')
  t.equal(sqlite.changed?.status, 409)
  t.match(sqlite.changed?.message, /^The customer wrote since you last looked/)
  t.same(sqlite.changed?.extra.senders, ['Cid Agent'])
  t.equal(sqlite.forced, null, 'send anyway')
  t.equal(sqlite.upToDate, null)
  t.equal(sqlite.assigneeOnly, 'ASSIGNEE_ONLY')
  t.equal(sqlite.assigneeReplies, null)
  if (pg) t.same(pg, sqlite, 'PostgreSQL answers exactly what SQLite does')
})

/** Snoozed conversations in workspace 1 (due at T0+10, T0+20, later) and one due in workspace 2. */
async function seedSnoozes(db: DialectDb) {
  const s = await seed(db)
  const snooze = (id: number, until: number) =>
    db.exec(`UPDATE conversations SET status = 'snoozed', snoozed_until = ? WHERE id = ?`, [until, id])
  await snooze(s.pool[0]!, T0 + 20)
  await snooze(s.pool[1]!, T0 + 10)
  await snooze(s.pool[2]!, T0 + 3_600_000)
  await snooze(s.otherConv, T0 + 15)
  return s
}

t.test('snooze: the next due time, the due rows of every workspace, and one wake per snooze, on both', async (t) => {
  const repo = new SnoozeRepo()
  const { sqlite, pg } = await onBoth(t, async (db) => {
    const empty = await db.runner.read(() => repo.nextDue())
    const s = await seedSnoozes(db)
    const rel = (id: number) => (id === s.otherConv ? 'other' : `conv${s.pool.indexOf(id)}`)
    const next = await db.runner.read(() => repo.nextDue())
    const due = await db.runner.read(() => repo.due(T0 + 20, 10))
    const firstOnly = await db.runner.read(() => repo.due(T0 + 20, 1))
    const woken = await db.runner.transact(() => repo.wake(s.pool[1]!, T0 + 20))
    const again = await db.runner.transact(() => repo.wake(s.pool[1]!, T0 + 21))
    const notDue = await db.runner.transact(() => repo.wake(s.pool[2]!, T0 + 21))
    const still = await db.runner.read(() => repo.due(T0 + 20, 10))
    return {
      empty,
      next: next! - T0,
      due: due.map((r) => [rel(r.id), r.workspaceId, r.snoozedUntil! - T0]),
      firstOnly: firstOnly.map((r) => rel(r.id)),
      woken: woken && { id: rel(woken.id), status: woken.status, snoozedUntil: woken.snoozedUntil, updatedAt: woken.updatedAt - T0 },
      again: again ?? null,
      notDue: notDue ?? null,
      still: still.map((r) => rel(r.id)),
    }
  })
  t.equal(sqlite.empty, undefined, 'nothing snoozed')
  t.equal(sqlite.next, 10)
  t.same(sqlite.due, [
    ['conv1', WS, 10],
    ['other', OTHER_WS, 15],
    ['conv0', WS, 20],
  ])
  t.same(sqlite.firstOnly, ['conv1'])
  t.same(sqlite.woken, { id: 'conv1', status: 'open', snoozedUntil: null, updatedAt: 20 }, 'back to Open')
  t.equal(sqlite.again, null, 'a woken snooze is not woken twice')
  t.equal(sqlite.notDue, null, 'a snooze not yet due is not woken')
  t.same(sqlite.still, ['other', 'conv0'])
  if (pg) t.same(pg, sqlite, 'PostgreSQL answers exactly what SQLite does')
})

t.test('PostgreSQL: two sessions waking the same due snoozes at once wake each once', async (t) => {
  const db = await pgDb(t)
  if (!db) return void t.pass('no PostgreSQL (PARLEY_TEST_PG_URL): skipped')
  const repo = new SnoozeRepo()
  const s = await seedSnoozes(db)
  const runner = db.runner as PgRunner
  // Both sessions read the same due rows before either writes: the race two processes' timers run.
  let read = 0
  let release!: () => void
  const bothRead = new Promise<void>((r) => (release = r))
  const pass = () =>
    runner.transact(function* () {
      const due = yield* repo.due(T0 + 30, 10)
      yield* step(() => {
        if (++read === 2) release()
        return bothRead
      })
      const woken: number[] = []
      for (const row of due) {
        const w = yield* repo.wake(row.id, T0 + 30)
        if (w) woken.push(w.id)
      }
      return { due: due.length, woken }
    })
  const [a, b] = await Promise.all([pass(), pass()])
  t.equal(a.due, 3)
  t.equal(b.due, 3, 'both saw the three due snoozes')
  t.same([...a.woken, ...b.woken].sort(), [s.pool[0]!, s.pool[1]!, s.otherConv].sort(), 'each woken exactly once between them')
  const left = await db.runner.read(() => repo.due(T0 + 30, 10))
  t.same(left, [])
})

t.test('the domain as units: the same refusals, drains and events on SQLite and PostgreSQL, the inbox writer included', async (t) => {
  const repo = new AssignmentRepo()
  const { sqlite, pg } = await onBoth(t, async (db) => {
    const s = await seed(db)
    const presence = new Presence({ offlineAfterMs: 60_000 })
    t.teardown(() => presence.stop())
    presence.streams(s.cid, WS, true)
    // The inbox's repositories and its writer, as units: the same objects on either database.
    const repos = inboxRepos()
    const assignment = new Assignment({
      repo,
      channels: { autoAssigns: (id) => id === s.auto },
      store: repos,
      writer: new InboxWriter(repos, () => T0),
      presence,
      now: () => T0,
    })
    const fail = (unit: (batch: Emitter) => Q<unknown>) =>
      db.log.transact(unit).then(
        (v) => ({ ok: v }),
        (err: Error & { code?: string }) => ({ err: err.code ?? err.name }),
      )
    const access = (userId: number, channelIds: number[] | null): Access => ({
      workspaceId: WS,
      userId,
      role: channelIds === null ? 'admin' : 'agent',
      channelIds: channelIds && new Set(channelIds),
    })
    const out = {
      otherWorkspace: await fail((b) => assignment.assignUnit(b, access(s.ann, null), s.otherConv, s.bea)),
      notHisChannel: await fail((b) => assignment.assignUnit(b, access(s.cid, [s.auto]), s.beas[1]!, s.cid)),
      notAMember: await fail((b) => assignment.assignUnit(b, access(s.ann, null), s.beas[1]!, s.cid)),
      deactivated: await fail((b) => assignment.assignUnit(b, access(s.ann, null), s.pool[0]!, s.gone)),
      otherWorkspacePerson: await fail((b) => assignment.assignUnit(b, access(s.ann, null), s.pool[0]!, s.zed)),
      offline: await fail((b) => assignment.drainForUnit(b, WS, s.bea)),
      nobodyThere: await fail((b) => assignment.unassignAllOfUnit(b, OTHER_WS, s.bea)),
      before: db.published.length,
      // Cid is online with room: the drain reaches the writer (the assignee, the line, the events).
      drain: await fail((b) => assignment.drainForUnit(b, WS, s.cid)),
      again: await fail((b) => assignment.drainChannelUnit(b, WS, s.auto)),
    }
    const rotation = await db.runner.read(() => repo.rotation(s.auto))
    const assigned = await db.runner.read(() => repo.openLoads(WS))
    const lines = await db.runner.read(function* () {
      return yield* all<{ text: string; conversationId: number }>(
        `SELECT text, conversation_id AS "conversationId" FROM messages WHERE type = 'activity' ORDER BY id`,
      )
    })
    return {
      ...out,
      rotation: rotation.lastAssigned,
      loads: [...assigned.entries()],
      lines,
      published: db.published.map((e) => [e.type, e.channelId, e.userId]),
    }
  })
  t.same(sqlite.otherWorkspace, { err: 'NOT_FOUND' }, "another workspace's conversation: 404")
  t.same(sqlite.notHisChannel, { err: 'NOT_FOUND' }, "outside the caller's channels: 404")
  t.same(sqlite.notAMember, { err: 'ASSIGNEE_NOT_ELIGIBLE' })
  t.same(sqlite.deactivated, { err: 'ASSIGNEE_NOT_ELIGIBLE' })
  t.same(sqlite.otherWorkspacePerson, { err: 'ASSIGNEE_NOT_ELIGIBLE' }, "another workspace's person: not eligible")
  t.same(sqlite.offline, { ok: 0 }, 'not online: nothing drained')
  t.same(sqlite.nobodyThere, { ok: 0 })
  t.equal(sqlite.before, 0, 'no event for a refusal')
  t.ok((sqlite.drain as { ok: number }).ok > 0, 'the drain assigned the pool to Cid')
  t.ok(
    sqlite.lines.length === (sqlite.drain as { ok: number }).ok + ((sqlite.again as { ok?: number }).ok ?? 0),
    'one timeline line per assignment',
  )
  t.ok(
    sqlite.published.some(([type]) => type === 'conversation.assigned'),
    'the assignee hears of it (conversation.assigned)',
  )
  if (pg) t.same(pg, sqlite, 'PostgreSQL answers, writes and emits exactly what SQLite does')
})

t.test('the snooze wake-up as a unit on PostgreSQL: the timer wakes each due snooze with its line and event', async (t) => {
  const db = await pgDb(t)
  if (!db) return void t.pass('no PostgreSQL (PARLEY_TEST_PG_URL): skipped')
  const s = await seedSnoozes(db)
  const repo = new SnoozeRepo()
  const repos = inboxRepos()
  const errors: Error[] = []
  const snoozes = new Snoozes({
    repo,
    store: repos,
    writer: new InboxWriter(repos, () => T0 + 30),
    unitLog: db.log,
    units: db.runner,
    timeZoneOf: () => step(() => 'UTC'),
    now: () => T0 + 30,
    onError: (err) => errors.push(err as Error),
  })
  // The timer runs its pass through the unit log on PostgreSQL as on SQLite.
  snoozes.start()
  t.teardown(() => snoozes.stop())
  const woken = () => db.published.filter((e) => e.type === 'conversation.updated').length
  for (const deadline = Date.now() + 20_000; woken() < 3 && errors.length === 0 && Date.now() < deadline; )
    await new Promise((r) => setTimeout(r, 20))
  t.same(errors, [], 'no error')
  t.equal(woken(), 3, "the timer's pass woke the three due snoozes")
  snoozes.stop()
  const due = await db.runner.read(() => repo.due(T0 + 30, 10))
  t.equal(due.length, 0, 'none still due')
  const lines = await db.runner.read(function* () {
    return yield* all<{ n: number }>(`SELECT count(*)::int AS n FROM messages WHERE type = 'activity'`)
  })
  t.equal(lines[0]!.n, 3, 'one "Snooze ended" line each')
  t.equal(db.published.filter((e) => e.type === 'message.created').length, 3)
  await t.rejects(
    db.log.transact((b) => snoozes.snoozeUnit(b, { workspaceId: WS, userId: s.bea }, s.pool[0]!, T0 - 1)),
    { code: 'SNOOZE_TIME_INVALID' },
    'the time is checked before anything else, on either database',
  )
  const snoozed = await db.log.transact((b) => snoozes.snoozeUnit(b, { workspaceId: WS, userId: s.bea }, s.pool[0]!, T0 + 3_600_000))
  t.equal(snoozed.status, 'snoozed', 'a snooze is written on PostgreSQL too')
  t.equal(snoozed.snoozedUntil, T0 + 3_600_000)
})
