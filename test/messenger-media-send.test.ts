// Agents send images and documents on Messenger as they do on WhatsApp: the file is
// uploaded to Parley, then by the outbox to the Page's Attachment Upload API, and sent by
// attachment_id through the Send API — same window rules, ticks and echo reconciliation
// as text. Real Parley in sandbox mode: its Graph calls go over HTTP to the emulator on
// its own listener, whose signed webhooks come back through the real route. Nothing of
// Parley replaced.
import t from 'tap'
import { createHash } from 'node:crypto'
import type { TestLike } from './helpers/server.ts'
import { startMessengerSandbox } from './helpers/messenger-sandbox.ts'
import { connectSse } from './helpers/sse.ts'
import { until } from './helpers/emulator.ts'
import { agentPage, ensureWebBuild, openConversation, launchBrowser, watchPage, E2E_FILE_TIMEOUT_MS, LIVE_MS } from './helpers/browser.ts'
import { plainReason } from '../src/domain/sending/meta-errors.ts'
import type { MessageDTO } from '../src/events/types.ts'
import { mp4, oggOpus } from './helpers/media-files.ts'

const DAY = 24 * 3600_000
t.setTimeout(E2E_FILE_TIMEOUT_MS)

// A 1×1 PNG with a few bytes of its own, so each test's file has its own hash.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64')
const PDF = Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.from('1 0 obj << /Type /Catalog >> endobj\n%%EOF\n')])
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex')

async function sandbox(t: TestLike, env: Record<string, string> = {}) {
  const sb = await startMessengerSandbox(t, env)
  /** The upload's media id; any other answer fails the test. */
  const upload = async (bytes: Buffer, mimeType: string, filename: string) => {
    const r = await sb.upload(bytes, mimeType, filename)
    if (r.status !== 201) throw new Error(`upload: ${r.status} ${JSON.stringify(r.body)}`)
    return r.body.media.id as number
  }
  return { ...sb, upload }
}

const rawKept = (s: { db: { $client: { prepare(sql: string): { get(): unknown } } } }) =>
  (s.db.$client.prepare('SELECT count(*) AS n FROM raw_webhooks').get() as { n: number }).n

t.test('an image to a Messenger user: the bytes reach Meta, one send, ticks live, the echo not duplicated', async (t) => {
  const sb = await sandbox(t)
  const stream = await connectSse(`${sb.s.url}/stream`, { token: sb.token })
  t.teardown(() => stream.close())
  const { psid, conv } = await sb.chat('Lena', 'Can you send me a photo of it?')
  const mediaId = await sb.upload(PNG, 'image/png', 'product.png')

  // A flaky connection: the same POST three times, two of them at once.
  const body = { clientMessageId: 'img-1', type: 'image', mediaId }
  const [a, b] = await Promise.all([
    sb.call('POST', `/api/conversations/${conv.id}/messages`, body),
    sb.call('POST', `/api/conversations/${conv.id}/messages`, body),
  ])
  const c = await sb.call('POST', `/api/conversations/${conv.id}/messages`, body)
  t.equal(a.status, 202)
  t.equal(a.body.message.id, b.body.message.id)
  t.equal(a.body.message.id, c.body.message.id)
  const id = a.body.message.id as number
  t.match(a.body.message, { type: 'image', direction: 'out', media: { mimeType: 'image/png', filename: 'product.png' } })

  await until(async () => (await sb.messages(conv.id)).find((m) => m.id === id && m.status === 'delivered'), 'delivered')
  const sim = (await sb.atUser(psid)).filter((m) => m.direction === 'out')
  t.equal(sim.length, 1, 'the user got one message')
  t.match(sim[0], {
    type: 'image',
    messagingType: 'RESPONSE',
    tag: null,
    metadata: `parley:${id}`,
    attachment: { type: 'image', mimeType: 'image/png', size: PNG.length },
  })
  t.equal(sim[0].attachment.sha256, sha256(PNG), 'the emulator received exactly the bytes the agent uploaded')
  const cdn = await fetch(`${sb.s.url}/sandbox/graph/messenger-cdn/${sim[0].attachment.id}`)
  t.equal(sha256(Buffer.from(await cdn.arrayBuffer())), sha256(PNG), "the user's Messenger shows that image")

  const stats = await sb.stats()
  t.equal(stats.attachmentUploads, 1, 'one upload')
  t.equal(stats.sendRequests, 1, 'one Send API call')
  t.same(stats.acceptedByMetadata, { [`parley:${id}`]: 1 })

  const all = await sb.messages(conv.id)
  t.equal(all.length, 2, 'the echo of our own attachment did not become a second message')
  const out = all.find((m) => m.id === id)!
  t.equal(out.providerMessageId, sim[0].mid)
  t.match(out, { type: 'image', media: { url: String, mimeType: 'image/png' } })
  const served = await fetch(sb.s.url + String(out.media!.url), { headers: { authorization: `Bearer ${sb.token}` } })
  t.equal(sha256(Buffer.from(await served.arrayBuffer())), sha256(PNG), "the agent's bubble shows the stored file")

  t.equal((await sb.call('POST', `/api/sandbox/messenger/users/${psid}/read`)).body.read, 1)
  await until(async () => (await sb.messages(conv.id)).find((m) => m.id === id && m.status === 'read'), 'read')
  await stream.waitFor((evs) =>
    evs.some((e) => e.event === 'message.updated' && JSON.parse(e.data).message.id === id && JSON.parse(e.data).message.status === 'read'),
  )
  const statuses = stream
    .data<{ message: MessageDTO }>('message.updated')
    .filter((d) => d.message.id === id)
    .map((d) => d.message.status)
  t.same(
    statuses.filter((x, i) => x !== statuses[i - 1]),
    ['sending', 'sent', 'delivered', 'read'],
    `every tick on the stream, only forward: ${statuses.join(',')}`,
  )
  t.equal(stream.data('message.created').filter((d: any) => d.message.id === id).length, 1, 'one message.created')
  t.equal(rawKept(sb.s), 0, 'every emulator payload parsed')
})

t.test('a document three days later goes as a file with the HUMAN_AGENT tag', async (t) => {
  const sb = await sandbox(t)
  const { psid, conv } = await sb.chat('Omar', 'Where is my invoice?', Date.now() - 3 * DAY)
  const mediaId = await sb.upload(PDF, 'application/pdf', 'invoice 42.pdf')
  const sent = await sb.call('POST', `/api/conversations/${conv.id}/messages`, { clientMessageId: 'doc-1', mediaId })
  t.equal(sent.status, 202)
  const id = sent.body.message.id as number
  t.equal(sent.body.message.type, 'document', 'the type follows the upload')
  await until(async () => (await sb.messages(conv.id)).find((m) => m.id === id && m.status === 'delivered'), 'delivered')
  const sim = (await sb.atUser(psid)).filter((m) => m.direction === 'out')
  t.match(sim, [
    {
      type: 'file',
      messagingType: 'MESSAGE_TAG',
      tag: 'HUMAN_AGENT',
      metadata: `parley:${id}`,
      attachment: { type: 'file', filename: 'invoice 42.pdf', mimeType: 'application/pdf' },
    },
  ])
  t.equal(sim[0].attachment.sha256, sha256(PDF))
  const cdn = await fetch(`${sb.s.url}/sandbox/graph/messenger-cdn/${sim[0].attachment.id}`)
  t.equal(cdn.headers.get('content-type'), 'application/octet-stream', 'a file is a download, never a page on this origin')
  t.match(cdn.headers.get('content-disposition'), /^attachment/)
  t.equal((await sb.messages(conv.id)).length, 2)
  t.same((await sb.stats()).rejected, {})
})

t.test('audio and a video to a Messenger user go as audio and video attachments, without captions, up to 25 MB', async (t) => {
  const sb = await sandbox(t)
  const { psid, conv } = await sb.chat('Rosa', 'Can you send the recording and the video?')
  const OGG = oggOpus('ms-voice')
  // 17 MB: more than WhatsApp takes, within Messenger's 25 MB.
  const MP4 = mp4('ms-demo', 17 * 1024 * 1024)
  const audioId = await sb.upload(OGG, 'audio/ogg', 'note.ogg')
  const videoId = await sb.upload(MP4, 'video/mp4', 'demo.mp4')

  const captioned = await sb.call('POST', `/api/conversations/${conv.id}/messages`, {
    clientMessageId: 'vid-cap',
    mediaId: videoId,
    caption: 'Look',
  })
  t.equal(captioned.status, 400)
  t.match(captioned.body, { error: { code: 'INVALID_MESSAGE', message: /no caption/ } }, 'a Messenger video has no caption either')

  const a = await sb.call('POST', `/api/conversations/${conv.id}/messages`, { clientMessageId: 'aud-1', mediaId: audioId })
  t.equal(a.status, 202)
  t.match(a.body.message, { type: 'audio', text: null, media: { mimeType: 'audio/ogg', size: OGG.length } })
  const v = await sb.call('POST', `/api/conversations/${conv.id}/messages`, { clientMessageId: 'vid-1', type: 'video', mediaId: videoId })
  t.equal(v.status, 202)
  t.match(v.body.message, { type: 'video', text: null, media: { mimeType: 'video/mp4', size: MP4.length } })
  const ids = [a.body.message.id as number, v.body.message.id as number]

  await until(
    async () => (await sb.messages(conv.id)).filter((m) => ids.includes(m.id) && m.status === 'delivered').length === 2 || undefined,
    'both delivered',
  )
  const sim = (await sb.atUser(psid)).filter((m) => m.direction === 'out')
  t.equal(sim.length, 2, 'the user got two messages')
  const audio = sim.find((m) => m.type === 'audio')
  const video = sim.find((m) => m.type === 'video')
  t.match(audio, { metadata: `parley:${ids[0]}`, attachment: { type: 'audio', mimeType: 'audio/ogg', size: OGG.length } })
  t.equal(audio.attachment.sha256, sha256(OGG), 'the emulator received exactly the audio the agent uploaded')
  t.match(video, { metadata: `parley:${ids[1]}`, attachment: { type: 'video', mimeType: 'video/mp4', size: MP4.length } })
  t.equal(video.attachment.sha256, sha256(MP4), 'and exactly the video')
  const cdn = await fetch(`${sb.s.url}/sandbox/graph/messenger-cdn/${audio.attachment.id}`)
  t.equal(cdn.headers.get('content-type'), 'audio/ogg', "the player's <audio> can play it…")
  t.match(cdn.headers.get('content-disposition'), /^attachment/, '…never a page on this origin')
  const stats = await sb.stats()
  t.equal(stats.attachmentUploads, 2)
  t.equal(stats.sendRequests, 2)
  t.equal((await sb.messages(conv.id)).length, 3, 'the echoes did not become more messages')

  // Over Messenger's 25 MB is refused at the upload already.
  const form = new FormData()
  form.set('file', new Blob([new Uint8Array(mp4('', 26 * 1024 * 1024))], { type: 'video/mp4' }), 'huge.mp4')
  const huge = await fetch(`${sb.s.url}/api/media`, { method: 'POST', headers: { authorization: `Bearer ${sb.token}` }, body: form })
  t.equal(huge.status, 413)
  t.match(await huge.json(), { error: { code: 'MEDIA_TOO_LARGE' } })
})

t.test("Meta's permanent refusal fails the attachment in Messenger's words, sent once", async (t) => {
  const sb = await sandbox(t)
  const { psid, conv } = await sb.chat('Ines', 'Hello?')
  // Meta's clock says otherwise: the user last wrote 8 days ago.
  t.equal((await sb.call('PATCH', `/api/sandbox/messenger/users/${psid}`, { lastInboundAt: Date.now() - 8 * DAY })).status, 200)
  const mediaId = await sb.upload(PNG, 'image/png', 'late.png')
  const sent = await sb.call('POST', `/api/conversations/${conv.id}/messages`, { clientMessageId: 'late-1', type: 'image', mediaId })
  t.equal(sent.status, 202)
  const id = sent.body.message.id as number
  const failed = await until(async () => (await sb.messages(conv.id)).find((m) => m.id === id && m.status === 'failed'), 'failed')
  t.equal(failed.error?.code, 10)
  t.equal(failed.error?.detail, plainReason(10, null, 'messenger'), 'a sentence an agent understands')
  const stats = await sb.stats()
  t.same(stats.rejected, { 10: 1 })
  t.equal(stats.sendRequests, 1, 'a permanent error is not retried')
  t.equal((await sb.atUser(psid)).filter((m) => m.direction === 'out').length, 0, 'nothing reached the user')
})

t.test(
  'transient errors: a failed upload is retried; a failed send is retried by the same attachment_id, not uploaded again',
  async (t) => {
    const sb = await sandbox(t, { OUTBOX_RETRY_BASE_MS: '20', OUTBOX_RETRY_CAP_MS: '100' })
    const { psid, conv } = await sb.chat('Ada', 'Ping')
    const faults = await sb.call('PUT', '/api/sandbox/messenger/faults', { sends: { uploads: [{ error: 2 }], sends: [{ error: 2 }] } })
    t.equal(faults.status, 200)
    const mediaId = await sb.upload(PNG, 'image/png', 'retry.png')
    const sent = await sb.call('POST', `/api/conversations/${conv.id}/messages`, { clientMessageId: 'retry-1', type: 'image', mediaId })
    const id = sent.body.message.id as number
    await until(async () => (await sb.messages(conv.id)).find((m) => m.id === id && m.status === 'delivered'), 'delivered')
    const stats = await sb.stats()
    t.equal(stats.attachmentUploads, 2, 'the upload Meta failed was tried again')
    t.equal(stats.attachmentsStored, 1, 'and stored once')
    t.equal(stats.sendRequests, 2, 'the send Meta failed was tried again…')
    t.same(stats.acceptedByMetadata, { [`parley:${id}`]: 1 }, '…and accepted once')
    t.same(stats.rejected, { 2: 2 })
    const sim = (await sb.atUser(psid)).filter((m) => m.direction === 'out')
    t.equal(sim.length, 1, 'the user got it once')
    t.equal(sim[0].attachment.sha256, sha256(PNG))
  },
)

t.test('refused up front: a caption, a reaction, a closed window; the emulator checks the Page token', async (t) => {
  const sb = await sandbox(t)
  const { psid, conv } = await sb.chat('Kai', 'Hi')
  const mediaId = await sb.upload(PNG, 'image/png', 'x.png')
  const captioned = await sb.call('POST', `/api/conversations/${conv.id}/messages`, {
    clientMessageId: 'cap-1',
    type: 'image',
    mediaId,
    caption: 'Look',
  })
  t.equal(captioned.status, 400)
  t.match(captioned.body, { error: { code: 'INVALID_MESSAGE', message: /no caption/ } })
  const asDocument = await sb.call('POST', `/api/conversations/${conv.id}/messages`, {
    clientMessageId: 'doc-x',
    type: 'document',
    mediaId,
  })
  t.equal(asDocument.status, 400, 'an image is not sent as a document')
  const inbound = (await sb.messages(conv.id))[0]!
  const reaction = await sb.call('POST', `/api/conversations/${conv.id}/messages`, {
    clientMessageId: 'r-1',
    reaction: { messageId: inbound.id, emoji: '👍' },
  })
  t.equal(reaction.status, 422)
  t.match(reaction.body, { error: { code: 'MESSENGER_UNSUPPORTED' } }, 'reactions stay WhatsApp-only')

  const closedPsid = await sb.user('Noor')
  await sb.say(closedPsid, { type: 'text', text: 'Old question', timestamp: Date.now() - 8 * DAY })
  const closed = await sb.conversationOf(closedPsid)
  const late = await sb.call('POST', `/api/conversations/${closed.id}/messages`, { clientMessageId: 'late-x', type: 'image', mediaId })
  t.equal(late.status, 422)
  t.match(late.body, { error: { code: 'MESSENGER_WINDOW_CLOSED' } })
  t.equal(
    (sb.s.db.$client.prepare(`SELECT count(*) AS n FROM messages WHERE direction = 'out'`).get() as { n: number }).n,
    0,
    'refusals store nothing',
  )

  // The Attachment Upload API as Meta answers it.
  const page = (await sb.call('GET', '/api/sandbox/messenger')).body.pages[0].pageId as string
  const pageToken = sb.s.app.services.secrets.open(
    (sb.s.db.$client.prepare(`SELECT access_token AS t FROM channels WHERE kind = 'messenger'`).get() as { t: string }).t,
  )
  const form = () => {
    const f = new FormData()
    f.set('message', JSON.stringify({ attachment: { type: 'image', payload: { is_reusable: true } } }))
    f.set('filedata', new Blob([new Uint8Array(PNG)], { type: 'image/png' }), 'a.png')
    return f
  }
  const bad = await fetch(`${sb.s.url}/sandbox/graph/v23.0/${page}/message_attachments`, {
    method: 'POST',
    headers: { authorization: 'Bearer nope' },
    body: form(),
  })
  t.match(await bad.json(), { error: { code: 190, type: 'OAuthException' } })
  const ok = await fetch(`${sb.s.url}/sandbox/graph/v23.0/${page}/message_attachments`, {
    method: 'POST',
    headers: { authorization: `Bearer ${pageToken}` },
    body: form(),
  })
  t.equal(ok.status, 200)
  const { attachment_id } = (await ok.json()) as { attachment_id: string }
  t.match(attachment_id, /^\d{15,17}$/)
  const wrongType = await fetch(`${sb.s.url}/sandbox/graph/v23.0/${page}/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${pageToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      recipient: { id: psid },
      messaging_type: 'RESPONSE',
      message: { attachment: { type: 'file', payload: { attachment_id } } },
    }),
  })
  t.equal(wrongType.status, 400)
  t.match(await wrongType.json(), { error: { code: 100 } })
})

t.test("the composer's 📎 on a Messenger conversation: the image reaches the simulated user", async (t) => {
  await ensureWebBuild()
  const sb = await sandbox(t)
  const { psid, conv } = await sb.chat('Mia', 'Show me the blue one')
  const browser = await launchBrowser(t)
  const { page, context } = await agentPage(t, browser, sb.s.url)
  await openConversation(page, conv.id)
  await page.waitForSelector('button[aria-label="Attach an image, audio, video or document"]')
  await page.fill('#composer-input', 'Here it is')
  await page.setInputFiles('.composer input[type=file]', { name: 'blue.png', mimeType: 'image/png', buffer: PNG })
  const sent = await until(
    async () => (await sb.messages(conv.id)).find((m) => m.type === 'image' && m.deliveredAt !== null),
    'image delivered',
  )
  await page.waitForSelector(`.msg img[src="${String(sent.media!.url)}"]`, { timeout: LIVE_MS })
  t.equal(await page.inputValue('#composer-input'), 'Here it is', 'no caption on Messenger: the text stays to send after the image')
  const sim = (await sb.atUser(psid)).filter((m) => m.direction === 'out')
  t.equal(sim.length, 1)
  t.equal(sim[0].attachment.sha256, sha256(PNG))

  const player = await context.newPage()
  watchPage(t, player, 'simulator')
  await player.goto(`${sb.s.url}/sandbox?player=messenger`)
  await player.click('nav.customers button:has-text("Mia")')
  await player.waitForSelector('.msg.theirs img', { timeout: LIVE_MS })
  t.pass("the simulator's Messenger player shows the Page's image")

  // A video: the agent's bubble and the user's player both show a <video>.
  await page.setInputFiles('.composer input[type=file]', { name: 'demo.mp4', mimeType: 'video/mp4', buffer: mp4('browser-demo') })
  // The player has Mia's chat open, so the user reads it at once: wait for "delivered or
  // later" (deliveredAt), not for a status the video may pass through between two polls.
  const video = await until(
    async () => (await sb.messages(conv.id)).find((m) => m.type === 'video' && m.deliveredAt !== null),
    'video delivered',
  )
  await page.waitForSelector(`.msg video[src="${String(video.media!.url)}"]`, { timeout: LIVE_MS })
  await player.waitForSelector('.msg.theirs video', { timeout: LIVE_MS })
  t.pass("the simulator's Messenger player shows the Page's video")
})
