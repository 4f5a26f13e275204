// Channels, channel members and workspace settings written once for both databases (issue
// 17): the same repository and directory units, on a fresh SQLite and a fresh PostgreSQL
// database from their real migrations, give the same rows, refusals and events — secrets
// stored sealed and read opened, another workspace's channels, members and settings absent.
import t from 'tap'
import type { Config } from '../src/config.ts'
import { ChannelDirectory } from '../src/domain/channels/channels.ts'
import { toPublicChannel } from '../src/domain/channels/channels.ts'
import { AppError } from '../src/errors.ts'
import { AccessResolver } from '../src/domain/accounts/access.ts'
import { ChannelMembersRepo } from '../src/store/channel-members.ts'
import { ChannelsRepo } from '../src/store/channels.ts'
import type { UnitRunner } from '../src/store/runner.ts'
import { SecretBox } from '../src/store/secret-box.ts'
import { all, get, type Q } from '../src/store/unit.ts'
import { WorkspaceSettingsRepo } from '../src/store/workspace-settings.ts'
import { onBoth } from './helpers/dialects.ts'

const WS = 1
const OTHER_WS = 2
const box = new SecretBox(SecretBox.keyFrom('a'.repeat(64))!)
const config = { metaAppSecret: 'app-secret', metaVerifyToken: 'app-verify' } as unknown as Config

/** The answer, or the refusal's code (what the route would send). */
async function outcome<T>(run: () => Promise<T>): Promise<T | { error: string }> {
  try {
    return await run()
  } catch (err) {
    if (err instanceof AppError) return { error: err.code }
    throw err
  }
}

function withoutCreatedAt(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutCreatedAt)
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, k === 'createdAt' ? typeof x : withoutCreatedAt(x)]))
  return v
}

async function insertUser(runner: UnitRunner, ws: number, email: string): Promise<number> {
  return runner.transact(function* () {
    const row = yield* get<{ id: number }>(
      `INSERT INTO users (workspace_id, email, name, password_hash, role) VALUES (?, ?, ?, 'x', 'agent') RETURNING id`,
      [ws, email, email],
    )
    return row!.id
  })
}

t.test('the same channels, members, settings and events on SQLite and PostgreSQL', async (t) => {
  const { sqlite, pg } = await onBoth(t, async (db) => {
    const repo = new ChannelsRepo(box)
    const members = new ChannelMembersRepo()
    const settings = new WorkspaceSettingsRepo()
    const dir = new ChannelDirectory({ repo, config, units: db.runner })
    const access = new AccessResolver(members)
    const tx = <T>(unit: () => Q<T>) => outcome(() => db.runner.transact(unit))
    const read = <T>(unit: () => Q<T>) => db.runner.read(unit)
    const out: Record<string, unknown> = {}

    // Channels: created through the directory (the route's unit), one in the other workspace.
    const wa = (await tx(() =>
      dir.createUnit(WS, {
        kind: 'whatsapp',
        externalId: '1001',
        name: 'Sales',
        accessToken: 'tok-1',
        appSecret: 'sec-1',
        verifyToken: '',
      }),
    )) as { id: number }
    const page = (await tx(() => dir.createUnit(WS, { kind: 'messenger', externalId: '2001', name: 'Page', enabled: false }))) as {
      id: number
    }
    const other = (await tx(() =>
      dir.createUnit(OTHER_WS, {
        kind: 'whatsapp',
        externalId: '9001',
        name: 'Theirs',
        accessToken: 'their-token',
        appSecret: 'their-sec',
      }),
    )) as { id: number }
    out.created = [wa, page, other]
    // (kind, external id) is unique across workspaces: a refusal, not an aborted transaction.
    out.duplicate = await tx(() => dir.createUnit(OTHER_WS, { kind: 'whatsapp', externalId: '1001', name: 'Again' }))
    out.duplicateInsert = (await tx(() => repo.insertIfNew({ workspaceId: WS, kind: 'whatsapp', externalId: '1001', name: 'x' }))) ?? null
    // At rest the secrets are sealed; every read opens them.
    out.raw = await read(() => all('SELECT access_token AS a, app_secret AS s, verify_token AS v FROM channels ORDER BY id'))

    out.byExternalId = (await read(() => repo.byExternalId('whatsapp', '1001'))) ?? null
    out.byExternalIdWrongKind = (await read(() => repo.byExternalId('messenger', '1001'))) ?? null
    out.byId = (await read(() => repo.byId(page.id))) ?? null
    out.kindOf = [
      await read(() => repo.kindOf(wa.id)),
      await read(() => repo.kindOf(page.id)),
      (await read(() => repo.kindOf(999))) ?? null,
    ]
    out.firstEnabled = [
      (await read(() => repo.firstEnabled(WS, 'whatsapp')))?.id ?? null,
      (await read(() => repo.firstEnabled(WS, 'messenger')))?.id ?? null, // disabled
    ]
    out.list = await read(() => repo.list(WS))
    out.listOther = (await read(() => repo.list(OTHER_WS))).map((c) => c.id)
    out.getOwn = (await read(() => dir.getUnit(WS, wa.id)))?.id ?? null
    out.getOtherWorkspaces = (await read(() => dir.getUnit(WS, other.id))) ?? null
    out.uncheckedWithToken = (await read(() => dir.uncheckedWithTokenUnit())).map((c) => c.id)
    out.secrets = await read(() => dir.secretsUnit('whatsapp'))
    out.secretsMessenger = await read(() => dir.secretsUnit('messenger'))
    out.autoAssigns = await read(() => dir.autoAssignsUnit(wa.id))

    // An update with its live event in one unit (the PATCH route's shape).
    const patchAndEmit = (ws: number, id: number, patch: Parameters<ChannelDirectory['updateUnit']>[2]) =>
      outcome(() =>
        db.log.transact(function* (batch) {
          const row = yield* dir.updateUnit(ws, id, patch)
          if (row) batch.emit(row.workspaceId, 'channel.updated', { channel: toPublicChannel(row) })
          return row ?? null
        }),
      )
    await tx(() => dir.recordCheckUnit(WS, wa.id, 'tok-1', { status: 'verified', checkedAt: 5, detail: 'Sales +1' }))
    out.checkStale =
      (await tx(() => dir.recordCheckUnit(WS, wa.id, 'old-token', { status: 'rejected', checkedAt: 6, detail: 'x' }))) ?? null
    out.afterCheck = await read(() => dir.getUnit(WS, wa.id))
    out.update = await patchAndEmit(WS, wa.id, { name: 'Sales EU', autoAssign: true, accessToken: 'tok-2', appSecret: '' })
    out.updateOtherWorkspace = await patchAndEmit(WS, other.id, { name: 'mine now' })
    out.updateNothing = await patchAndEmit(WS, page.id, {})
    dir.changed()
    out.secretsAfter = await read(() => dir.secretsUnit('whatsapp'))
    out.autoAssignsAfter = await read(() => dir.autoAssignsUnit(wa.id))
    out.otherUntouched = await read(() => repo.byId(other.id))
    out.published = db.published.map((e) => ({ ...e, data: JSON.parse(e.data) }))

    // Members: only channels of the user's own workspace; set replaces.
    const ann = await insertUser(db.runner, WS, 'ann@example.com')
    const bob = await insertUser(db.runner, WS, 'bob@example.com')
    const zed = await insertUser(db.runner, OTHER_WS, 'zed@example.com')
    await tx(() => members.set(ann, [wa.id, page.id, other.id, wa.id]))
    await tx(() => members.set(bob, [page.id]))
    await tx(() => members.set(zed, [other.id, wa.id]))
    out.annChannels = await read(() => members.channelIdsOf(ann))
    out.membersOfPage = await read(() => members.membersOf(page.id))
    out.byUser = [...(await read(() => members.byUser())).entries()]
    out.membersByChannel = [...(await read(() => dir.membersByChannelUnit(WS))).entries()]
    out.membersByChannelOther = [...(await read(() => dir.membersByChannelUnit(OTHER_WS))).entries()]
    await tx(() => members.set(ann, [page.id]))
    out.annAfter = await read(() => members.channelIdsOf(ann))
    // What a request and a stream see (AccessResolver): an agent's channels, an admin's every one.
    const accessOf = async (userId: number, role: 'admin' | 'agent') => {
      const a = await read(() => access.ofUnit({ workspaceId: WS, userId, role }))
      return { ...a, channelIds: a.channelIds === null ? null : [...a.channelIds] }
    }
    out.annAccess = await accessOf(ann, 'agent')
    out.zedAccess = await accessOf(zed, 'agent')
    out.adminAccess = await accessOf(bob, 'admin')
    out.list = (await read(() => dir.listUnit(WS))).map((c) => [c.kind, c.name, c.accessToken])
    out.listOther = (await read(() => dir.listUnit(OTHER_WS))).map((c) => c.name)

    // Workspace settings: the given fields only; another workspace untouched; none for no workspace.
    out.settings = await read(() => settings.get(WS))
    out.settingsUpdate = await tx(() =>
      settings.update(WS, {
        assignmentCap: 7,
        timezone: 'Europe/Lisbon',
        businessHours: { weekly: { mon: [{ from: '09:00', to: '17:00' }] }, holidays: ['2026-12-25'] },
        awayMessage: 'Back soon',
      }),
    )
    settings.forget(WS)
    out.settingsRead = await read(() => settings.get(WS))
    out.settingsOther = await read(() => settings.get(OTHER_WS))
    out.settingsNone = (await read(() => settings.get(999))) ?? null
    out.settingsClear = await tx(() => settings.update(WS, { businessHours: null, awayMessage: null }))

    // Start-up: the environment's channel (ensure) and the clear secrets sealed once.
    await tx(() => repo.ensure({ workspaceId: WS, kind: 'whatsapp', externalId: '3001', name: 'Env', accessToken: 'env-1' }, {}))
    await tx(() => repo.ensure({ workspaceId: WS, kind: 'whatsapp', externalId: '3001', name: 'Env' }, { accessToken: 'env-2' }))
    out.ensured = (await read(() => repo.byExternalId('whatsapp', '3001')))?.accessToken ?? null
    await db.exec(`UPDATE channels SET verify_token = 'clear-verify' WHERE external_id = ?`, ['2001'])
    out.sealed = await tx(() => repo.sealClearSecrets())
    out.sealedAgain = await tx(() => repo.sealClearSecrets())
    out.pageVerify = (await read(() => repo.byId(page.id)))?.verifyToken ?? null
    out.anySealedOpens = box.open((await read(() => repo.anySealed()))!).length > 0
    return out
  })

  const o = sqlite as Record<string, unknown>
  const raw = o.raw as { a: string | null; s: string | null; v: string | null }[]
  t.ok(
    raw.every((r) => [r.a, r.s, r.v].every((v) => v === null || SecretBox.isSealed(v))),
    'no secret stored in clear',
  )
  t.equal(raw[0]!.v, null, 'an empty secret is no secret')
  t.match(o.duplicate, { error: 'CHANNEL_EXISTS' })
  t.equal(o.duplicateInsert, null)
  t.match(o.byExternalId, { externalId: '1001', accessToken: 'tok-1', appSecret: 'sec-1', enabled: true, autoAssign: false })
  t.equal(o.byExternalIdWrongKind, null)
  t.same(o.kindOf, ['whatsapp', 'messenger', null])
  t.equal(o.getOtherWorkspaces, null, "another workspace's channel is absent")
  t.equal(o.updateOtherWorkspace, null, "another workspace's channel is not changed")
  t.match(o.otherUntouched, { name: 'Theirs', accessToken: 'their-token' })
  t.same(o.secrets, { secrets: ['app-secret', 'sec-1', 'their-sec'], tokens: ['app-verify'] })
  t.match(o.afterCheck, { credentialsStatus: 'verified', credentialsDetail: 'Sales +1' })
  t.equal(o.checkStale, null, 'a verdict on an old token is not stored')
  t.match(o.update, { name: 'Sales EU', autoAssign: true, accessToken: 'tok-2', appSecret: null, credentialsStatus: null })
  t.same(o.secretsAfter, { secrets: ['app-secret', 'their-sec'], tokens: ['app-verify'] })
  t.equal(o.autoAssignsAfter, true)
  t.same(
    (o.published as { type: string }[]).map((e) => e.type),
    ['channel.updated', 'channel.updated'],
  )
  t.same(o.annChannels, [(o.created as { id: number }[])[0]!.id, (o.created as { id: number }[])[1]!.id], 'own workspace only')
  t.match(
    o.annAccess,
    { workspaceId: WS, role: 'agent', channelIds: [(o.created as { id: number }[])[1]!.id] },
    'an agent sees their channels',
  )
  t.same((o.zedAccess as { channelIds: unknown }).channelIds, [(o.created as { id: number }[])[2]!.id], 'only of their own workspace')
  t.equal((o.adminAccess as { channelIds: unknown }).channelIds, null, 'an admin sees every channel')
  t.same(o.listOther, ['Theirs'], "the directory's list is the workspace's own")
  t.same(o.membersByChannelOther, [[(o.created as { id: number }[])[2]!.id, [3]]])
  t.match(o.settings, { assignmentCap: Number, timezone: String, businessHours: null })
  t.match(o.settingsRead, { assignmentCap: 7, timezone: 'Europe/Lisbon', awayMessage: 'Back soon' })
  t.same(o.settingsOther, o.settings, 'the other workspace keeps its settings')
  t.equal(o.settingsNone, null)
  t.equal(o.ensured, 'env-2')
  t.equal(o.sealed, 1)
  t.equal(o.sealedAgain, 0)
  t.equal(o.pageVerify, 'clear-verify')

  if (!pg) {
    t.comment('no PostgreSQL server (PARLEY_TEST_PG_URL): SQLite only')
    return
  }
  // Sealed values differ byte for byte (a fresh nonce each time); what they open to does not.
  // created_at is each database's clock at the insert.
  const { raw: _s, ...sqliteRest } = o
  const { raw: _p, ...pgRest } = pg as Record<string, unknown>
  t.same(withoutCreatedAt(pgRest), withoutCreatedAt(sqliteRest), 'PostgreSQL answers as SQLite does')
})
