// The inbox's team rules without a browser (issue 13): this person's own unread, the
// views and their counts kept live from events, what concerns them, whom a conversation
// can be handed to, and how assignment lines and waiting read.
import t from 'tap'
import { createInboxState, type StreamEvent } from '../web/src/state/inbox.ts'
import { assignable, assignmentWords, concernsMe, countsDelta, matchesView } from '../web/src/state/team.ts'
import { waitingLabel } from '../web/src/lib/format.ts'
import type { ConversationDTO, MessageDTO } from '../src/events/types.ts'
import { conv, msg } from './helpers/dto-fixtures.ts'

const id = (n: number) => `ep1:${n}`
const ME = 7
const BEN = { id: 8, name: 'Ben Ortiz' }
const ANA = { id: ME, name: 'Ana Lopez' }

const created = (n: number, m: MessageDTO, c: ConversationDTO): StreamEvent => ({
  id: id(n),
  type: 'message.created',
  data: { message: m, conversation: c },
})
const convUpdated = (n: number, c: ConversationDTO, extra: Record<string, unknown> = {}): StreamEvent => ({
  id: id(n),
  type: 'conversation.updated',
  data: { conversation: c, ...extra },
})

function boot(convs: ConversationDTO[], at = 10) {
  const s = createInboxState({ now: () => 42 })
  s.me.value = ME
  s.applyConversationPage(convs, id(at), { key: s.paging.value.key, nextCursor: null, first: true })
  return s
}

t.test("unread is this person's own: customer messages add, their own read clears, nothing else moves it", async (t) => {
  const s = boot([conv(1, { unreadCount: 2 }), conv(2)])
  // The REST count is the caller's own.
  t.equal(s.conversation(1)!.unreadCount, 2)
  // A customer's message: +1, whatever the shared copy says.
  s.applyEvent(created(11, msg(100, 1), conv(1, { unreadCount: 0 })))
  t.equal(s.conversation(1)!.unreadCount, 3)
  s.applyEvent(created(12, msg(101, 1), conv(1, { unreadCount: 99 })))
  t.equal(s.conversation(1)!.unreadCount, 4)
  // A reaction, an agent's reply and a system line are not unread messages.
  s.applyEvent(created(13, msg(102, 1, { type: 'reaction' }), conv(1)))
  s.applyEvent(created(14, msg(103, 1, { direction: 'out', status: 'queued' }), conv(1)))
  s.applyEvent(created(15, msg(104, 1, { direction: 'system', type: 'activity' }), conv(1)))
  t.equal(s.conversation(1)!.unreadCount, 4)
  // Assignment, status and labels (conversation.updated) never mark read or unread.
  s.applyEvent(convUpdated(16, conv(1, { assignee: BEN, unreadCount: 0 })))
  t.equal(s.conversation(1)!.unreadCount, 4, 'assigning does not mark it read')
  s.applyEvent(convUpdated(17, conv(2, { assignee: BEN, unreadCount: 5 })))
  t.equal(s.conversation(2)!.unreadCount, 0, 'nor unread')
  s.applyEvent(convUpdated(18, conv(1, { status: 'resolved', unreadCount: 0 })))
  t.equal(s.conversation(1)!.unreadCount, 4)
  // Someone else's read (their audience; or a shared copy naming them) leaves mine alone.
  s.applyEvent(convUpdated(19, conv(1, { unreadCount: 0 }), { readBy: BEN.id }))
  t.equal(s.conversation(1)!.unreadCount, 4)
  // My own read, from another tab or device: mine is what it says.
  s.applyEvent(convUpdated(20, conv(1, { unreadCount: 0 }), { readBy: ME }))
  t.equal(s.conversation(1)!.unreadCount, 0)
  // A replayed message event (already counted) does not count twice.
  t.equal(s.applyEvent(created(12, msg(101, 1), conv(1))), 'duplicate')
  t.equal(s.conversation(1)!.unreadCount, 0)
  // A brand-new conversation starts at one.
  s.applyEvent(created(21, msg(105, 3), conv(3, { unreadCount: 17 })))
  t.equal(s.conversation(3)!.unreadCount, 1)
})

t.test('a message event older than the page does not count again; one newer does', async (t) => {
  const s = boot([conv(1, { unreadCount: 1 })], 20)
  t.equal(s.applyEvent(created(15, msg(100, 1), conv(1))), 'ignored', 'the page read at 20 counted it')
  t.equal(s.conversation(1)!.unreadCount, 1)
  s.applyEvent(created(21, msg(101, 1), conv(1)))
  t.equal(s.conversation(1)!.unreadCount, 2)
})

t.test('the title counts what concerns me: mine and the unassigned, not a teammate’s', async (t) => {
  const s = boot([conv(1, { unreadCount: 2 }), conv(2, { unreadCount: 3, assignee: BEN }), conv(3, { unreadCount: 4, assignee: ANA })])
  t.equal(s.unreadTotal.value, 6)
  // Ben hands conversation 2 to me: its unread is counted now.
  s.applyEvent(convUpdated(11, conv(2, { assignee: ANA })))
  t.equal(s.conversation(2)!.unreadCount, 3)
  t.equal(s.unreadTotal.value, 9)
  t.ok(concernsMe(conv(1), ME))
  t.notOk(concernsMe(conv(1, { assignee: BEN }), ME))
  t.ok(concernsMe(conv(1, { assignee: BEN }), null), 'before sign-in is known, everything counts')
})

t.test('views: Mine, Unassigned, All, combined with the status filter', async (t) => {
  const s = boot([conv(1), conv(2, { assignee: BEN }), conv(3, { assignee: ANA }), conv(4, { assignee: ANA, status: 'resolved' })])
  const ids = () => s.conversationList.value.map((c) => c.id).sort()
  t.same(ids(), [1, 2, 3])
  s.view.value = 'mine'
  t.same(ids(), [3])
  s.filter.value = 'all'
  t.same(ids(), [3, 4])
  s.view.value = 'unassigned'
  t.same(ids(), [1])
  // Assigned to me live: it leaves Unassigned and joins Mine.
  s.applyEvent(convUpdated(11, conv(1, { assignee: ANA })))
  t.same(ids(), [])
  s.view.value = 'mine'
  t.same(ids(), [1, 3, 4])
  t.ok(matchesView(conv(9), 'all', ME))
  t.notOk(matchesView(conv(9, { assignee: BEN }), 'mine', ME))
})

t.test('counts move with the events they can place, and ask the server when they cannot', async (t) => {
  const s = boot([conv(1), conv(2, { assignee: BEN }), conv(3, { assignee: ANA })])
  s.counts.value = { mine: 1, unassigned: 1, all: 3 }
  // Assigned to me: unassigned −1, mine +1.
  s.applyEvent(convUpdated(11, conv(1, { assignee: ANA })))
  t.same(s.counts.value, { mine: 2, unassigned: 0, all: 3 })
  // Mine resolved: it leaves the open counts.
  s.applyEvent(convUpdated(12, conv(3, { assignee: ANA, status: 'resolved' })))
  t.same(s.counts.value, { mine: 1, unassigned: 0, all: 2 })
  // The customer writes again: reopened.
  s.applyEvent(created(13, msg(100, 3), conv(3, { assignee: ANA, status: 'open' })))
  t.same(s.counts.value, { mine: 2, unassigned: 0, all: 3 })
  // Unassigned by Ben (someone else's): unassigned +1.
  s.applyEvent(convUpdated(14, conv(2, { assignee: null })))
  t.same(s.counts.value, { mine: 2, unassigned: 1, all: 3 })
  // A message that changes no view leaves the counts and asks nothing.
  t.equal(s.countsStale.value, 0)
  s.applyEvent(created(15, msg(101, 2), conv(2)))
  t.same(s.counts.value, { mine: 2, unassigned: 1, all: 3 })
  t.equal(s.countsStale.value, 0)
  // A conversation not held (new, or below the loaded pages): the server is asked.
  s.applyEvent(created(16, msg(102, 50), conv(50)))
  t.equal(s.countsStale.value, 1)
  t.same(s.counts.value, { mine: 2, unassigned: 1, all: 3 }, 'unchanged until the server answers')
  // This person's own change moves them at once.
  s.applyLocalConversationPatch(2, { assignee: ANA })
  t.same(s.counts.value, { mine: 3, unassigned: 0, all: 3 })
  // …and the server's event for it changes nothing more.
  s.applyEvent(convUpdated(17, conv(2, { assignee: ANA })))
  t.same(s.counts.value, { mine: 3, unassigned: 0, all: 3 })
  // A REST copy moving a conversation between views: asks the server.
  s.applyConversation(conv(1, { assignee: BEN }), id(30))
  t.equal(s.countsStale.value, 2)
  // A replay of an old event changes nothing.
  t.equal(s.applyEvent(convUpdated(11, conv(1, { assignee: ANA }))), 'duplicate')
  t.same(s.counts.value, { mine: 3, unassigned: 0, all: 3 })
  t.same(countsDelta(undefined, conv(1), ME), null)
  t.same(countsDelta(conv(1, { status: 'resolved' }), conv(1, { status: 'resolved', assignee: ANA }), ME), {
    mine: 0,
    unassigned: 0,
    all: 0,
  })
})

t.test('conversation.assigned: applied, heard once, never touching unread', async (t) => {
  const s = boot([conv(1, { unreadCount: 2 })])
  const heard: Array<[number, string | null]> = []
  s.onAssigned((c, by) => heard.push([c.id, by?.name ?? null]))
  const ev: StreamEvent = {
    id: id(11),
    type: 'conversation.assigned',
    data: { conversation: conv(1, { assignee: ANA, unreadCount: 0 }), by: { userId: BEN.id, name: BEN.name } },
  }
  t.equal(s.applyEvent(ev), 'applied')
  t.equal(s.applyEvent(ev), 'duplicate')
  t.same(heard, [[1, 'Ben Ortiz']])
  // Someone else's (never sent to me; if it were, no news for me).
  s.applyEvent({ id: id(13), type: 'conversation.assigned', data: { conversation: conv(3, { assignee: BEN }), by: null } })
  t.same(heard, [[1, 'Ben Ortiz']])
  // Automatic assignment: by nobody.
  s.applyEvent({ id: id(14), type: 'conversation.assigned', data: { conversation: conv(2, { assignee: ANA }), by: null } })
  t.same(heard, [
    [1, 'Ben Ortiz'],
    [2, null],
  ])
  t.equal(s.conversation(1)!.unreadCount, 2)
  s.view.value = 'mine'
  t.same(
    s.conversationList.value.map((c) => c.id),
    [2, 1],
  )
  // Assignees seen are known by name (the picker names channel members with them), and
  // so are the people system lines and user.updated events name.
  t.equal(s.knownNames.get(ME), 'Ana Lopez')
  s.applyMessagePage(
    1,
    [
      msg(300, 1, {
        direction: 'system',
        type: 'activity',
        data: { action: 'assigned', actor: { userId: 20, name: 'Cora' }, target: { userId: 21, name: 'Dan' } },
      }),
    ],
    id(15),
    {
      older: false,
      nextCursor: null,
    },
  )
  t.equal(s.knownNames.get(20), 'Cora')
  t.equal(s.knownNames.get(21), 'Dan')
  s.applyEvent({ id: id(16), type: 'user.updated', data: { user: { id: 22, name: 'Eve', role: 'agent' } } })
  t.equal(s.knownNames.get(22), 'Eve')
})

t.test('whom a conversation can be handed to', async (t) => {
  const people = [
    { id: 1, name: 'Zed Admin', channelIds: null },
    { id: 2, name: 'Ben', channelIds: [1, 2] },
    { id: 3, name: 'Cora', channelIds: [2] },
  ]
  t.same(
    assignable(1, people, null, new Map(), null).map((p) => p.name),
    ['Ben', 'Zed Admin'],
    'the team list: members of the channel, and admins',
  )
  t.same(
    assignable(2, null, [2, 3, 9], new Map([[2, 'Ben']]), null),
    [
      { id: 2, name: 'Ben' },
      { id: 9, name: 'Teammate #9' },
      { id: 3, name: 'Teammate #3' },
    ].sort((a, b) => a.name.localeCompare(b.name)),
    "without it (an agent): the channel's members, named when known",
  )
  t.same(
    assignable(1, null, null, new Map([[7, 'Ana']]), { id: 8, name: 'Ben' }),
    [
      { id: 7, name: 'Ana' },
      { id: 8, name: 'Ben' },
    ],
    'with neither: who is known, and the current assignee always',
  )
  t.same(
    assignable(2, null, [3], new Map(), null, { id: 1, name: 'Admin' }).map((p) => p.name),
    ['Admin', 'Teammate #3'],
    'the person looking can always take it (an admin is in no member list)',
  )
})

t.test('assignment lines and waiting read as people say them', async (t) => {
  const ana = { userId: 7, name: 'Ana' }
  const ben = { userId: 8, name: 'Ben' }
  t.equal(assignmentWords({ action: 'assigned', actor: ana, target: ben }), 'Ana assigned this to Ben')
  t.equal(assignmentWords({ action: 'assigned', actor: ben, target: ben }), 'Ben took this')
  t.equal(assignmentWords({ action: 'unassigned', actor: ana, target: null }), 'Ana unassigned this')
  t.equal(assignmentWords({ action: 'assigned', actor: null, target: ben }), 'Parley assigned this to Ben', 'automatic assignment')
  t.equal(assignmentWords({ action: 'resolved', actor: ana }), null)
  t.equal(assignmentWords(null), null)
  const now = 1_700_000_000_000
  t.equal(waitingLabel(now - 5_000, now), 'waiting 1 min')
  t.equal(waitingLabel(now - 12 * 60_000, now), 'waiting 12 min')
  t.equal(waitingLabel(now - 125 * 60_000, now), 'waiting 2 h 5 min')
  t.equal(waitingLabel(now - 3 * 3_600_000, now), 'waiting 3 h')
  t.equal(waitingLabel(now - 50 * 3_600_000, now), 'waiting 2 d')
})
