// Labels live (issue 14), real server and real SSE clients: a change to the workspace's
// labels reaches every stream (a label's name is nobody's secret); a conversation's new
// labels reach the people of its channel as `conversation.updated` — and never an agent
// without that channel, live or in a replay.
import t from 'tap'
import { twoChannelServer } from './helpers/team-fixtures.ts'
import { connectSse } from './helpers/sse.ts'
import { textWebhook } from './helpers/wa.ts'
import type { ConversationDTO, LabelRef } from '../src/events/types.ts'

t.test('a label change reaches B’s stream; an agent without the channel never gets the conversation', async (t) => {
  // A second channel, so Cy can work one that is not the customer's.
  const ts = await twoChannelServer(t)
  t.equal(ts.secondStatus, 201)
  const { s, api: admin, first: x, agent } = ts
  const ana = await agent('Ana', [x])
  const ben = await agent('Ben', [x])
  const cy = await agent('Cy', [ts.second])

  t.equal((await s.webhook(textWebhook('15550001111', 'Maria', 'Hello').payload)).status, 200)
  const conv = ((await ben.call('GET', '/api/conversations')).body.conversations as ConversationDTO[])[0]!
  const start = (await ben.call('GET', '/api/conversations')).body.eventId as string
  const benLive = await connectSse(`${s.url}/stream`, { token: ben.token, lastEventId: start })
  const cyLive = await connectSse(`${s.url}/stream`, { token: cy.token, lastEventId: start })
  t.teardown(() => {
    benLive.close()
    cyLive.close()
  })

  // The admin defines a label: everyone hears it, whatever their channels.
  const vip = (await admin('POST', '/api/labels', { name: 'VIP', color: '#2563eb' })).body.label as LabelRef
  await benLive.waitFor((evs) => evs.some((e) => e.event === 'labels.changed'))
  await cyLive.waitFor((evs) => evs.some((e) => e.event === 'labels.changed'))
  t.same(benLive.data('labels.changed'), [{ labels: [vip] }])
  t.same(cyLive.data('labels.changed'), [{ labels: [vip] }])

  // Ana labels the conversation: Ben (same channel) sees it live, with his unread untouched.
  t.equal((await ana.call('PUT', `/api/conversations/${conv.id}/labels`, { labelIds: [vip.id] })).status, 200)
  await benLive.waitFor((evs) => evs.some((e) => e.event === 'conversation.updated'))
  const updated = benLive.data<{ conversation: ConversationDTO }>('conversation.updated')
  t.equal(updated.length, 1)
  t.same(updated[0]!.conversation.labels, [vip])
  t.equal(updated[0]!.conversation.lastActivityAt, conv.lastActivityAt, 'not moved in the list')
  t.equal(updated[0]!.conversation.lastMessagePreview, conv.lastMessagePreview)
  t.equal(benLive.data('message.created').length, 0, 'no timeline line for a label')
  t.equal(
    ((await ben.call('GET', `/api/conversations/${conv.id}`)).body.conversation as ConversationDTO).unreadCount,
    1,
    'Ben’s unread as it was',
  )

  // A rename after it: Cy hears the rename, so anything before it has been delivered to him.
  const renamed = (await admin('PATCH', `/api/labels/${vip.id}`, { name: 'Very important' })).body.label as LabelRef
  await cyLive.waitFor((evs) => evs.filter((e) => e.event === 'labels.changed').length === 2)
  await benLive.waitFor((evs) => evs.filter((e) => e.event === 'labels.changed').length === 2)
  t.same(cyLive.data('labels.changed')[1], { labels: [renamed] })
  t.equal(cyLive.data('conversation.updated').length, 0, 'Cy, without the channel, never got the conversation')
  t.notOk(
    cyLive.events.some((e) => e.data.includes('Maria') || e.data.includes('Hello')),
    'nothing of the conversation on his stream',
  )

  // Replays follow the same audience.
  const cyReplay = await connectSse(`${s.url}/stream`, { token: cy.token, lastEventId: start })
  const benReplay = await connectSse(`${s.url}/stream`, { token: ben.token, lastEventId: start })
  t.teardown(() => {
    cyReplay.close()
    benReplay.close()
  })
  await cyReplay.waitFor((evs) => evs.filter((e) => e.event === 'labels.changed').length === 2)
  await benReplay.waitFor((evs) => evs.filter((e) => e.event === 'labels.changed').length === 2)
  t.equal(cyReplay.data('conversation.updated').length, 0, 'not in Cy’s replay either')
  t.equal(benReplay.data('conversation.updated').length, 1, 'in Ben’s')
})
