// The inbox's repositories written once for both databases (issue 17): conversations and
// messages as units of work, on a fresh SQLite and a fresh PostgreSQL database from their
// real migrations, give the same rows and DTOs — inserts, a duplicate provider id
// (undefined, the transaction goes on), updates, status, read positions, the list with every
// filter and its keyset pages, labels in code-point order, message pages both ways and
// around one — and another workspace's rows are absent.
import t, { type Test } from 'tap'
import { readMessagePage } from '../src/http/message-pages.ts'
import { ConversationsRepo } from '../src/store/conversations.ts'
import { MessagesRepo } from '../src/store/messages.ts'
import type { NewMessage } from '../src/store/rows.ts'
import type { Q } from '../src/store/unit.ts'
import { type DialectDb, onBoth, insertId } from './helpers/dialects.ts'

const WS = 1
const OTHER_WS = 2

const conversations = new ConversationsRepo()
const messages = new MessagesRepo()

const msg = (ws: number, conv: number, channel: number, i: number, over: Partial<NewMessage> = {}): NewMessage => ({
  workspaceId: ws,
  conversationId: conv,
  channelId: channel,
  direction: 'in',
  type: 'text',
  text: `m${i}`,
  status: 'received',
  timestamp: 10_000 + i,
  providerMessageId: `wamid.${ws}.${conv}.${i}`,
  data: { i },
  createdAt: 1,
  updatedAt: 1,
  ...over,
})

async function scenario(t: Test, db: DialectDb): Promise<Record<string, unknown>> {
  const w = <T>(unit: () => Q<T>) => db.runner.transact(unit)
  const r = <T>(unit: () => Q<T>) => db.runner.read(unit)
  const out: Record<string, unknown> = {}

  const user = (ws: number, name: string) =>
    insertId(db, `INSERT INTO users (workspace_id, email, name, password_hash, role) VALUES (?, ?, ?, 'x', 'agent')`, [
      ws,
      `${name}@x`,
      name,
    ])
  const channel = (ws: number, kind: string, ext: string) =>
    insertId(db, 'INSERT INTO channels (workspace_id, kind, external_id, name) VALUES (?, ?, ?, ?)', [ws, kind, ext, ext])
  const contact = (ws: number, kind: string, ext: string, name: string | null, phone: string | null) =>
    insertId(db, 'INSERT INTO contacts (workspace_id, kind, external_id, name, phone) VALUES (?, ?, ?, ?, ?)', [ws, kind, ext, name, phone])
  const ana = await user(WS, 'Ana')
  const bo = await user(WS, 'Bo')
  const wa = await channel(WS, 'whatsapp', 'pn1')
  const fb = await channel(WS, 'messenger', 'page1')
  const otherCh = await channel(OTHER_WS, 'whatsapp', 'pn9')
  const contacts = [
    await contact(WS, 'whatsapp', '4915123456', 'Zoë 50%_off', '+4915123456'),
    await contact(WS, 'whatsapp', '4917000000', 'anna', '+4917000000'),
    await contact(WS, 'messenger', 'psid1', 'ANNABEL', null),
    await contact(WS, 'whatsapp', '4915999999', null, '+4915999999'),
  ]
  const otherContact = await contact(OTHER_WS, 'whatsapp', '4915123456', 'Zoë', '+4915123456')

  // Conversations: find-or-open twice gives the same row; times decide the list's order.
  const convs: number[] = []
  for (const [i, ct] of contacts.entries()) {
    const ch = i === 2 ? fb : wa
    const a = await w(() => conversations.findOrOpenConversation(WS, ch, ct, 1_000 + i))
    const b = await w(() => conversations.findOrOpenConversation(WS, ch, ct, 9_999))
    t.same(a, b, 'find-or-open finds the open one')
    convs.push(a.id)
  }
  out.opened = await r(() => conversations.conversationByChannelContact(wa, contacts[0]!))
  const other = (await w(() => conversations.findOrOpenConversation(OTHER_WS, otherCh, otherContact, 5_000))).id
  // Two conversations at the same time: the id breaks the tie in the keyset.
  out.updated = await w(() => conversations.updateConversation(convs[3]!, { lastActivityAt: 1_002, assigneeId: ana, updatedAt: 1 }))
  await w(() => conversations.updateConversation(convs[1]!, { assigneeId: bo, status: 'pending', updatedAt: 2 }))

  // Messages: inserts, a duplicate provider id (undefined, and the transaction goes on).
  const ids: number[] = []
  for (let i = 0; i < 7; i++) ids.push((await w(() => messages.insertMessage(msg(WS, convs[0]!, wa, i))))!.id)
  out.duplicate = await w(function* () {
    const dup = yield* messages.insertMessage(msg(WS, convs[0]!, wa, 3, { text: 'again' }))
    const after = yield* messages.insertMessage(
      msg(WS, convs[0]!, wa, 7, { direction: 'out', status: 'sent', senderUserId: ana, sentAt: 10_007 }),
    )
    return { dup, after: after?.text, afterId: after?.id }
  })
  ids.push((out.duplicate as { afterId: number }).afterId)
  await w(() => messages.insertMessage(msg(WS, convs[0]!, wa, 8, { type: 'reaction', providerMessageId: 'wamid.reaction' })))
  await w(() =>
    messages.insertMessage(
      msg(WS, convs[0]!, wa, 9, { direction: 'system', type: 'note', providerMessageId: null, clientMessageId: 'c-1' }),
    ),
  )
  const otherMsg = (await w(() => messages.insertMessage(msg(OTHER_WS, other, otherCh, 0))))!.id
  out.updateMessage = await w(() =>
    messages.updateMessage(ids[7]!, { status: 'failed', errorCode: 131047, errorTitle: 'Re-engagement', failedAt: 1 }),
  )
  await w(() =>
    conversations.updateConversation(convs[0]!, {
      lastMessageId: ids[7]!,
      lastMessagePreview: 'm7',
      lastMessageDirection: 'out',
      unreadCount: 3,
    }),
  )
  out.byProvider = await r(() => messages.messageByProviderId(wa, 'wamid.1.1.2'))
  out.byProviderOtherChannel = await r(() => messages.messageByProviderId(otherCh, 'wamid.1.1.2'))
  out.byId = await r(() => messages.messageById(WS, ids[0]!))
  out.byIdOtherWs = await r(() => messages.messageById(OTHER_WS, ids[0]!))
  out.rowById = await r(() => messages.messageRowById(otherMsg))
  out.byClientId = await r(() => messages.byClientId(WS, 'c-1'))
  out.byClientIdOtherWs = await r(() => messages.byClientId(OTHER_WS, 'c-1'))
  out.lastInbound = await r(() => messages.lastInboundProviderId(convs[0]!))
  out.outboundUpTo = await r(() => messages.outboundUpTo(convs[0]!, 20_000, ['failed', 'sent']))
  out.outboundUpToBefore = await r(() => messages.outboundUpTo(convs[0]!, 10_006, ['failed']))
  out.newestId = await r(() => messages.newestIdOf(convs[0]!))
  out.newestIdEmpty = await r(() => messages.newestIdOf(convs[2]!))

  // Labels on the DTO, in code-point order (upper case first), whatever PostgreSQL's locale.
  const label = (ws: number, name: string) =>
    insertId(db, 'INSERT INTO labels (workspace_id, name, color) VALUES (?, ?, ?)', [ws, name, '#111111'])
  const lb = await label(WS, 'beta')
  const lA = await label(WS, 'Alpha')
  const lu = await label(WS, '_vip')
  for (const l of [lb, lA, lu]) await db.exec('INSERT INTO conversation_labels (conversation_id, label_id) VALUES (?, ?)', [convs[0], l])
  await db.exec('INSERT INTO conversation_labels (conversation_id, label_id) VALUES (?, ?)', [convs[2], lb])
  out.labelsOf = await r(() => conversations.labelsOf(convs[0]!))

  // DTOs, the viewer's unread and read positions (never back).
  out.dto = await r(() => conversations.conversationDTO(WS, convs[0]!))
  out.dtoOtherWs = await r(() => conversations.conversationDTO(OTHER_WS, convs[0]!))
  out.dtoFor = await r(() => conversations.conversationDTOFor({ userId: ana }, WS, convs[0]!))
  await w(() => conversations.readUpTo(convs[0]!, ana, 50))
  out.dtoForRead = (await r(() => conversations.conversationDTOFor({ userId: ana }, WS, convs[0]!)))?.unreadCount
  out.dtoForBo = (await r(() => conversations.conversationDTOFor({ userId: bo }, WS, convs[0]!)))?.unreadCount
  await w(() => messages.insertMessage(msg(WS, convs[0]!, wa, 10)))
  out.unreadAfterNew = (await r(() => conversations.conversationDTOFor({ userId: ana }, WS, convs[0]!)))?.unreadCount
  await w(() => conversations.readUpTo(convs[0]!, ana, 60))
  out.unreadReadAgain = (await r(() => conversations.conversationDTOFor({ userId: ana }, WS, convs[0]!)))?.unreadCount
  await w(() => conversations.startReadsAt(bo, [wa, fb], 70))
  out.boAfterStart = (await r(() => conversations.conversationDTOFor({ userId: bo }, WS, convs[0]!)))?.unreadCount
  out.channelOf = await r(() => conversations.channelOf(WS, convs[2]!))
  out.channelOfOtherWs = await r(() => conversations.channelOf(OTHER_WS, convs[2]!))
  out.exists = await r(() => conversations.conversationExists(WS, convs[0]!))
  out.existsOtherWs = await r(() => conversations.conversationExists(WS, other))
  out.idsOfContact = await r(() => conversations.conversationIdsOfContact(WS, contacts[0]!))
  out.idsOfContactOtherWs = await r(() => conversations.conversationIdsOfContact(OTHER_WS, contacts[0]!))
  out.counts = await r(() => conversations.viewCounts(WS, { userId: ana }, null))
  out.countsIn = await r(() => conversations.viewCounts(WS, { userId: ana }, [fb]))
  out.countsOtherWs = await r(() => conversations.viewCounts(OTHER_WS, { userId: ana }, null))

  // Status and mark-read: undefined when nothing changes or the row is another workspace's.
  out.status = await w(() => conversations.setConversationStatus(WS, convs[2]!, 'resolved', 80))
  out.statusSame = await w(() => conversations.setConversationStatus(WS, convs[2]!, 'resolved', 81))
  out.statusOtherWs = await w(() => conversations.setConversationStatus(OTHER_WS, convs[2]!, 'open', 82))
  out.markRead = (await w(() => conversations.markConversationRead(WS, convs[0]!, 90)))?.unreadCount
  out.markReadAgain = await w(() => conversations.markConversationRead(WS, convs[0]!, 91))
  out.markReadOtherWs = await w(() => conversations.markConversationRead(OTHER_WS, other, 92))

  // The list with every filter, and its keyset pages.
  const list = (opts: Parameters<ConversationsRepo['listConversationDTOs']>[1], viewer = true) =>
    r(() => conversations.listConversationDTOs(WS, opts, viewer ? { userId: ana } : undefined)).then((l) => l.map((c) => c.id))
  const lists: Record<string, unknown> = {}
  lists.all = await list({ limit: 10 }, false)
  lists.viewer = await r(() => conversations.listConversationDTOs(WS, { limit: 10 }, { userId: ana }))
  lists.channelIds = await list({ limit: 10, channelIds: [fb] })
  lists.channelIdsEmpty = await list({ limit: 10, channelIds: [] })
  lists.mine = await list({ limit: 10, view: 'mine' })
  lists.unassigned = await list({ limit: 10, view: 'unassigned' })
  lists.status = await list({ limit: 10, status: 'pending' })
  lists.channelId = await list({ limit: 10, channelId: wa })
  lists.kind = await list({ limit: 10, kind: 'messenger' })
  lists.label = await list({ limit: 10, label: lb })
  lists.qName = await list({ limit: 10, q: 'ANN' })
  lists.qLiteral = await list({ limit: 10, q: '50%_' })
  lists.qPercentOnly = await list({ limit: 10, q: '%' })
  lists.qPhone = await list({ limit: 10, q: '+49 151-23' })
  lists.combined = await list({ limit: 10, channelIds: [wa, fb], view: 'unassigned', status: 'open', kind: 'whatsapp', label: lb, q: 'zo' })
  const pages: number[][] = []
  let before: { at: number; id: number } | undefined
  for (;;) {
    const page = await r(() => conversations.listConversationDTOs(WS, { limit: 2, before }, { userId: ana }))
    if (page.length === 0) break
    pages.push(page.map((c) => c.id))
    const last = page[page.length - 1]!
    before = { at: last.lastActivityAt, id: last.id }
  }
  lists.pages = pages
  lists.otherWs = await r(() => conversations.listConversationDTOs(OTHER_WS, { limit: 10 })).then((l) => l.map((c) => c.id))
  out.lists = lists

  // Message pages: newest, older, newer, around; another workspace's conversation has none.
  const page = (at: Parameters<typeof readMessagePage>[4], ws = WS, conv = convs[0]!) =>
    r(() => readMessagePage(messages, ws, conv, 3, at)).then((p) => p && { ...p, messages: p.messages.map((m) => m.text) })
  out.pageNewest = await page({})
  out.pageOlder = await page({ before: ids[3]! })
  out.pageNewer = await page({ after: ids[1]! })
  out.pageAround = await page({ around: ids[4]! })
  out.pageAroundOtherWs = await page({ around: otherMsg })
  out.pageOtherWs = await page({}, OTHER_WS)
  out.dtos = await r(() => messages.listMessageDTOs(WS, convs[0]!, { limit: 3 }))
  out.dtoIn = await r(() => messages.messageDTOIn(WS, convs[0]!, ids[7]!))
  out.dtoInOtherWs = await r(() => messages.messageDTOIn(OTHER_WS, convs[0]!, ids[7]!))
  out.after = await r(() => messages.messageDTOsAfter(WS, convs[0]!, ids[1]!, ids[4]!, 10)).then((l) => l.map((m) => m.text))
  out.hasAfter = await r(() => messages.hasMessageAfter(WS, convs[0]!, ids[6]!))
  out.hasAfterOtherWs = await r(() => messages.hasMessageAfter(OTHER_WS, convs[0]!, ids[0]!))
  const note = (await r(() => messages.byClientId(WS, 'c-1')))!.id
  out.deleteNotANote = await w(() => messages.deleteNote(ids[0]!))
  out.deleteNote = await w(() => messages.deleteNote(note))
  out.deleteNoteAgain = await w(() => messages.deleteNote(note))
  return out
}

t.test('conversations and messages: the same rows, DTOs and pages on SQLite and PostgreSQL', async (t) => {
  const { sqlite, pg } = await onBoth(t, (db) => scenario(t, db))
  const s = sqlite as Record<string, any>
  t.equal(s.duplicate.dup, undefined, 'a duplicate provider id inserts nothing')
  t.equal(s.duplicate.after, 'm7', 'and the transaction goes on')
  t.same(
    s.labelsOf.map((l: { name: string }) => l.name),
    ['Alpha', '_vip', 'beta'],
    'labels by code point',
  )
  t.same(
    s.dto.labels.map((l: { name: string }) => l.name),
    ['Alpha', '_vip', 'beta'],
    'the DTO carries them in that order',
  )
  t.equal(s.dto.lastMessageStatus, 'failed', 'the last message’s status')
  for (const k of [
    'dtoOtherWs',
    'byIdOtherWs',
    'byClientIdOtherWs',
    'channelOfOtherWs',
    'statusOtherWs',
    'markReadOtherWs',
    'dtoInOtherWs',
    'pageAroundOtherWs',
  ])
    t.equal(s[k], undefined, `${k}: absent`)
  t.equal(s.existsOtherWs, false)
  t.same(s.idsOfContactOtherWs, [])
  t.same(s.lists.otherWs.length, 1, 'the other workspace sees only its own')
  t.equal(s.dtoForRead, 0, 'read: nothing unread for Ana')
  t.ok(s.dtoForBo > 0, 'Bo still has it unread')
  t.equal(s.unreadAfterNew, 1)
  t.equal(s.boAfterStart, 0, 'a new member starts read')
  t.equal(s.statusSame, undefined)
  t.equal(s.markReadAgain, undefined)
  t.same(s.lists.qLiteral, s.lists.qPhone, 'wildcards literal; the number by its digits')
  t.same(s.lists.qPercentOnly, s.lists.qLiteral)
  t.equal(s.lists.qName.length, 2, 'case-insensitive name search')
  t.same(s.pageAround.messages.length, 3)
  t.same(s.lastInbound, 'wamid.1.1.6', 'the newest inbound message by id (not a reaction)')
  t.same(s.deleteNote, true)
  t.same([s.deleteNotANote, s.deleteNoteAgain], [false, false])
  t.same(s.lists.pages.flat(), s.lists.all, 'keyset pages walk the whole list once')
  if (!pg) return t.comment('no PostgreSQL: SQLite only')
  for (const k of Object.keys(sqlite)) t.same(pg[k], sqlite[k], `same ${k}`)
  t.same(Object.keys(pg), Object.keys(sqlite))
})
