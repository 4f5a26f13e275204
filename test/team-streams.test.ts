// Per-user streams and presence (issue 13): real server, real SSE clients. Two agents
// on different channels and the admin; a customer writes on one channel.
import t, { type Test } from 'tap'
import { type AnaAndBen, anaAndBen } from './helpers/team-fixtures.ts'
import { connectSse, type SseClient, type SseEvent } from './helpers/sse.ts'
import { until } from './helpers/emulator.ts'
import { setMembers } from './helpers/members.ts'
import type { Access } from '../src/domain/accounts/access.ts'

/** The default channel (from the environment) and a second one; Ana works the first, Ben the second. */
type Team = AnaAndBen

async function team(t: Test, env: Record<string, string> = {}): Promise<Team> {
  const tm = await anaAndBen(t, { env })
  t.equal(tm.secondStatus, 201)
  return tm
}

/** A customer writes on the first channel (default) or the second. */
const customerWrites = (tm: Team, channel: 'first' | 'second', from: string, body: string): Promise<void> =>
  tm.customerWrites(from, `Customer ${from}`, body, channel)

const idNum = (id: string | undefined) => Number(id!.slice(id!.lastIndexOf(':') + 1))

/** The texts of the customer messages a stream carried. */
const texts = (c: SseClient) =>
  c.events.filter((e) => e.event === 'message.created').map((e) => (JSON.parse(e.data) as { message: { text: string } }).message.text)

/** The channels of every conversation-bearing event a stream carried. */
function channelsSeen(events: SseEvent[]): Set<number> {
  const out = new Set<number>()
  for (const e of events) {
    if (e.event !== 'message.created' && e.event !== 'conversation.updated') continue
    out.add((JSON.parse(e.data) as { conversation: { channelId: number } }).conversation.channelId)
  }
  return out
}

function strictlyIncreasing(t: Test, c: SseClient, who: string): void {
  const ids = c.events.filter((e) => e.id && e.event !== 'reset').map((e) => idNum(e.id))
  t.ok(
    ids.every((id, i) => i === 0 || id > ids[i - 1]!),
    `${who}: ids strictly increasing (${ids.join(',')})`,
  )
}

const open = (tm: Team, token: string, lastEventId?: string) =>
  connectSse(`${tm.s.url}/stream`, { token, ...(lastEventId ? { lastEventId } : {}) })

t.test('a customer message on a channel reaches its member and the admin, never the non-member: live and on replay', async (t) => {
  const tm = await team(t)
  const { epoch } = tm.s.app.services.events
  const admin = await open(tm, tm.admin)
  const ana = await open(tm, tm.ana.token)
  const ben = await open(tm, tm.ben.token)
  t.teardown(() => {
    for (const c of [admin, ana, ben]) c.close()
  })
  await until(async () => tm.s.app.services.hub.size === 3, 'three streams')

  await customerWrites(tm, 'second', '15550009001', 'for support')
  await customerWrites(tm, 'first', '15550009002', 'for sales')
  await customerWrites(tm, 'second', '15550009001', 'support again')
  await admin.waitFor(() => texts(admin).length === 3)
  await ben.waitFor(() => texts(ben).length === 2)
  // Ana's stream carries the first channel's message, which came after the second
  // channel's first one: had that been sent to her, it would be here by now.
  await ana.waitFor(() => texts(ana).includes('for sales'))
  await customerWrites(tm, 'first', '15550009002', 'sales again')
  await ana.waitFor(() => texts(ana).includes('sales again'))

  t.same(texts(admin), ['for support', 'for sales', 'support again', 'sales again'], 'the admin sees every channel')
  t.same(texts(ben), ['for support', 'support again'], "the second channel's member sees only it")
  t.same(texts(ana), ['for sales', 'sales again'], "the first channel's member sees only it")
  t.same([...channelsSeen(ana.events)], [tm.first], 'not one event of the other channel reached Ana')
  t.same([...channelsSeen(ben.events)], [tm.second])
  for (const [who, c] of [
    ['admin', admin],
    ['ana', ana],
    ['ben', ben],
  ] as const)
    strictlyIncreasing(t, c, who)

  // Replay from 0 and from forged cursors: the same filter, in SQL.
  const head = tm.s.app.services.events.head
  const secondIds = ben.events.filter((e) => e.id).map((e) => idNum(e.id))
  const forged = `${epoch}:${Math.min(...secondIds) - 1}`
  for (const [label, cursor] of [
    ['from 0', `${epoch}:0`],
    ['from a forged cursor just before the other channel’s event', forged],
  ] as const) {
    const replay = await open(tm, tm.ana.token, cursor)
    t.teardown(() => replay.close())
    const lastLive = idNum(ana.lastId())
    await replay.waitFor((evs) => evs.some((e) => e.id !== undefined && idNum(e.id) === lastLive))
    t.notOk(
      replay.events.some((e) => e.event === 'reset'),
      `${label}: a valid cursor, no reset`,
    )
    t.same([...channelsSeen(replay.events)], [tm.first], `${label}: Ana replays nothing of the other channel`)
    t.ok(
      replay.events.every((e) => !e.id || idNum(e.id) <= head),
      `${label}: nothing past the head`,
    )
    strictlyIncreasing(t, replay, `ana replay ${label}`)
    replay.close()
  }
  // The query-string cursor is filtered alike.
  const q = await connectSse(`${tm.s.url}/stream?lastEventId=${encodeURIComponent(`${epoch}:0`)}`, { token: tm.ben.token })
  t.teardown(() => q.close())
  await q.waitFor(() => texts(q).length === 2)
  t.same(texts(q), ['for support', 'support again'])
  t.same([...channelsSeen(q.events)], [tm.second])
})

t.test('a change of channels resets open streams, which go on under the new access; deactivation closes them', async (t) => {
  const tm = await team(t)
  const { hub, events } = tm.s.app.services
  const ana = await open(tm, tm.ana.token)
  t.teardown(() => ana.close())
  await until(async () => hub.size === 1, 'the stream')
  await customerWrites(tm, 'first', '15550009101', 'before')
  await ana.waitFor(() => texts(ana).includes('before'))

  // Ana joins the second channel.
  await setMembers(tm.s.app.services, tm.ana.id, [tm.first, tm.second])
  t.equal(await hub.resetUser(tm.ana.id), 1, 'one stream reset')
  await ana.waitFor((evs) => evs.some((e) => e.event === 'reset'))
  const reset = ana.events.find((e) => e.event === 'reset')!
  t.same(JSON.parse(reset.data), { reason: 'access_changed', cursor: events.cursor() })
  t.equal(reset.id, events.cursor(), 'the reset carries the cursor it is current to')
  await customerWrites(tm, 'second', '15550009102', 'now yours too')
  await ana.waitFor(() => texts(ana).includes('now yours too'))
  t.same([...channelsSeen(ana.events)].sort(), [tm.first, tm.second].sort(), 'the new channel arrives live on the same stream')

  // And leaves both.
  await setMembers(tm.s.app.services, tm.ana.id, [])
  await hub.resetUser(tm.ana.id)
  await ana.waitFor((evs) => evs.filter((e) => e.event === 'reset').length === 2)
  const before = ana.events.length
  await customerWrites(tm, 'second', '15550009102', 'not for Ana')
  await customerWrites(tm, 'first', '15550009101', 'nor this')
  // A third reset after them: fan-out is in id order on one socket, so had either
  // message been sent to Ana it would have arrived before this.
  await setMembers(tm.s.app.services, tm.ana.id, [tm.first])
  await hub.resetUser(tm.ana.id)
  await ana.waitFor((evs) => evs.filter((e) => e.event === 'reset').length === 3)
  t.equal(texts(ana).length, 2, 'nothing of either channel between the second reset and the third')
  t.same(
    ana.events.slice(before).map((e) => e.event),
    ['reset'],
  )
  strictlyIncreasing(t, ana, 'ana')

  // Deactivation: the team code revokes the sessions and closes the streams.
  t.equal(hub.closeUser(tm.ana.id), 1)
  await ana.closed
  t.ok(ana.isClosed(), "the deactivated person's stream is closed")
  t.equal(hub.size, 0, 'and no longer held by the hub')
})

t.test('a reset for a person whose session ended closes the stream instead', async (t) => {
  const tm = await team(t)
  const { hub } = tm.s.app.services
  const ben = await open(tm, tm.ben.token)
  t.teardown(() => ben.close())
  await until(async () => hub.size === 1, 'the stream')
  await tm.s.sql.run('UPDATE sessions SET revoked_at = ? WHERE user_id = ?', [Date.now(), tm.ben.id])
  t.equal(await hub.resetUser(tm.ben.id), 0, 'nothing reset')
  await ben.closed
  t.notOk(ben.events.some((e) => e.event === 'reset'))
})

t.test('presence: online with the first stream, offline only after the grace; a closed tab or a blip is not offline', async (t) => {
  const tm = await team(t, { PRESENCE_OFFLINE_AFTER_SECONDS: '2' })
  const { presence, hub, auth } = tm.s.app.services
  const ws = await auth.defaultWorkspace()
  const changes: Array<[number, boolean]> = []
  presence.onChange((userId, online) => changes.push([userId, online]))
  t.notOk(presence.isOnline(tm.ben.id), 'nobody is online before a stream')

  const tab1 = await open(tm, tm.ben.token)
  const tab2 = await open(tm, tm.ben.token)
  t.teardown(() => {
    for (const c of [tab1, tab2]) c.close()
  })
  await until(async () => hub.size === 2, 'two tabs')
  t.same(changes, [[tm.ben.id, true]], 'online once, with the first stream')
  t.ok(presence.isOnline(tm.ben.id))
  t.same(presence.onlineUsers(ws), [tm.ben.id])

  // One tab of two closes: still online, no timer at all.
  tab1.close()
  await until(async () => hub.size === 1, 'one tab left')
  t.ok(presence.isOnline(tm.ben.id), 'one closed tab does not make anyone offline')

  // A blip: the last stream drops and comes back within the grace.
  tab2.close()
  await until(async () => !hub.hasStreams(tm.ben.id, ws), 'no stream left')
  t.ok(presence.isOnline(tm.ben.id), 'within the grace, still online')
  const back = await open(tm, tm.ben.token)
  t.teardown(() => back.close())
  await until(async () => hub.hasStreams(tm.ben.id, ws), 'reconnected')
  t.same(changes, [[tm.ben.id, true]], 'the blip changed nothing')

  // Gone for good: offline once the grace has passed, announced once.
  back.close()
  await until(async () => changes.length === 2, 'offline after the grace', 10_000)
  t.same(changes, [
    [tm.ben.id, true],
    [tm.ben.id, false],
  ])
  t.notOk(presence.isOnline(tm.ben.id))
  t.same(presence.onlineUsers(ws), [])

  // And back: online again at once.
  const again = await open(tm, tm.ben.token)
  t.teardown(() => again.close())
  await until(async () => changes.length === 3, 'online again')
  t.same(changes[2], [tm.ben.id, true])
})

t.test(
  'one commit with events for the workspace, each channel and each person: every stream gets exactly its share, in order, live and replayed',
  async (t) => {
    const tm = await team(t)
    const { hub, auth, events, unitLog } = tm.s.app.services
    const ws = await auth.defaultWorkspace()
    const streams = { admin: await open(tm, tm.admin), ana: await open(tm, tm.ana.token), ben: await open(tm, tm.ben.token) }
    t.teardown(() => {
      for (const c of Object.values(streams)) c.close()
    })
    await until(async () => hub.size === 3, 'three streams')
    const before = events.cursor()
    // Minimal payloads: the hub reads only the audience; the test reads `tag`.
    const conv = (tag: string, channelId: number) => ({ conversation: { tag, channelId } }) as never
    // biome-ignore lint/correctness/useYield: a unit that only emits events writes no row
    await unitLog.transact(function* (batch) {
      batch.emit(ws, 'contacts.imported', { listId: 1, created: 0, updated: 0 })
      batch.emit(ws, 'conversation.updated', conv('second', tm.second), { channelId: tm.second })
      batch.emit(ws, 'conversation.updated', conv('first', tm.first), { channelId: tm.first })
      batch.emit(ws, 'contacts.imported', { listId: 2, created: 0, updated: 0 }, { userId: tm.ana.id })
      batch.emit(ws, 'conversation.updated', conv('ben-second', tm.second), { channelId: tm.second, userId: tm.ben.id })
      batch.emit(ws, 'conversation.updated', conv('ben-first', tm.first), { channelId: tm.first, userId: tm.ben.id })
      batch.emit(ws, 'contacts.imported', { listId: 3, created: 0, updated: 0 })
    })
    const tags = (evs: SseEvent[]) =>
      evs
        .filter((e) => e.event === 'conversation.updated' || e.event === 'contacts.imported')
        .map((e) => {
          const d = JSON.parse(e.data) as { conversation?: { tag: string }; listId?: number }
          return d.conversation ? d.conversation.tag : `list${d.listId}`
        })
    const expected = {
      admin: ['list1', 'second', 'first', 'list3'],
      ana: ['list1', 'first', 'list2', 'list3'],
      ben: ['list1', 'second', 'ben-second', 'list3'],
    }
    for (const [who, c] of Object.entries(streams)) {
      await c.waitFor((evs) => tags(evs).includes('list3'))
      t.same(tags(c.events), expected[who as keyof typeof expected], `${who}: live`)
      strictlyIncreasing(t, c, who)
    }
    for (const [who, token] of [
      ['admin', tm.admin],
      ['ana', tm.ana.token],
      ['ben', tm.ben.token],
    ] as const) {
      const replay = await open(tm, token, before)
      t.teardown(() => replay.close())
      await replay.waitFor((evs) => tags(evs).includes('list3'))
      t.same(tags(replay.events), expected[who], `${who}: replayed`)
      t.same(
        replay.events.map((e) => e.id),
        streams[who].events.filter((e) => e.id && idNum(e.id) > idNum(before)).map((e) => e.id),
        `${who}: the same ids as live`,
      )
      replay.close()
    }
  },
)

t.test('an access read in flight holds the stream; of two reads the last wins; a stream closed meanwhile is skipped', async (t) => {
  const tm = await team(t)
  const { hub } = tm.s.app.services
  const ana = await open(tm, tm.ana.token)
  t.teardown(() => ana.close())
  const admin = await open(tm, (await tm.s.login()).token)
  t.teardown(() => admin.close())
  await until(async () => hub.size === 2, 'the streams')
  // The reads answer when the test says (as a slow database would).
  const reads: Array<(a: Access | undefined) => void> = []
  hub.readAccessWith(() => new Promise((resolve) => reads.push(resolve)))
  const accessOf = (...channelIds: number[]): Access => ({
    workspaceId: tm.workspaceId,
    userId: tm.ana.id,
    role: 'agent',
    channelIds: new Set(channelIds),
  })

  const older = hub.resetUser(tm.ana.id)
  const newer = hub.resetUser(tm.ana.id)
  await until(async () => reads.length === 2, 'both reads started')
  // A message of Ana's (old) channel while her access is read: the admin hears it, Ana not
  // under the old access (the reset follows on her socket: had it been sent, it came first).
  await customerWrites(tm, 'first', '15550009201', 'while held')
  await admin.waitFor(() => texts(admin).includes('while held'))
  reads[1]!(accessOf(tm.first, tm.second))
  t.equal(await newer, 1, 'the last read is applied')
  reads[0]!(accessOf())
  t.equal(await older, 0, 'the older read, answering later, is not')
  await ana.waitFor((evs) => evs.some((e) => e.event === 'reset'))
  t.notOk(texts(ana).includes('while held'), 'nothing went out under the old access during the read')
  await customerWrites(tm, 'second', '15550009202', 'the newer access')
  await ana.waitFor(() => texts(ana).includes('the newer access'))
  t.equal(ana.events.filter((e) => e.event === 'reset').length, 1, 'one reset')

  const closing = hub.resetUser(tm.ana.id)
  await until(async () => reads.length === 3, 'a third read started')
  ana.close()
  await until(async () => hub.size === 1, 'her stream gone')
  reads[2]!(accessOf(tm.first))
  t.equal(await closing, 0, 'a stream closed meanwhile is skipped')
})
