// Media both ways through the Graph media flow: a customer's photo is fetched
// (id → short-lived URL → bytes with the Bearer token) into the data dir and served to
// agents with safe headers; an agent's upload goes to Meta and reaches the customer.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { startPair, until, type Pair } from './helpers/emulator.ts'
import type { MessageDTO } from '../src/events/types.ts'
import { mp4, oggOpus, oggVorbis, uploadMedia } from './helpers/media-files.ts'

const CUSTOMER = '15550001111'
// A 1×1 PNG.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64')

const uploader = (p: Pair) => (bytes: Buffer, type: string, name: string) => uploadMedia(p.parley.url, p.token, bytes, type, name)

/** Maria writes first (the window is open); the agent's side: the pair, the conversation, an uploader. */
async function agentChat(t: Parameters<typeof startPair>[0], opening: string) {
  const p = await startPair(t)
  await p.emu.customer('Maria', CUSTOMER)
  await p.emu.say(CUSTOMER, opening)
  return { p, conv: await conversation(p), upload: uploader(p) }
}

async function conversation(p: Pair) {
  const conv = (await p.call('GET', '/api/conversations')).body.conversations[0]
  const messages = async () => (await p.call('GET', `/api/conversations/${conv.id}/messages`)).body.messages as MessageDTO[]
  return { id: conv.id as number, messages }
}

const get = (p: Pair, path: string, token: string | null = p.token) =>
  fetch(p.parley.url + path, { headers: token ? { authorization: `Bearer ${token}` } : {} })

t.test('inbound image: fetched through the Graph media flow and served with safe headers', async (t) => {
  const p = await startPair(t)
  await p.emu.customer('Maria', CUSTOMER)
  await p.emu.send(CUSTOMER, { type: 'image', data: PNG.toString('base64'), mimeType: 'image/png', caption: 'my receipt' })
  const conv = await conversation(p)
  const img = await until(async () => (await conv.messages()).find((m) => m.type === 'image' && m.media?.url), 'the image stored')
  t.equal(img.text, 'my receipt')
  t.match(img.media, { mimeType: 'image/png', url: /^\/api\/media\/\d+$/, size: PNG.length })

  const res = await get(p, img.media!.url as string)
  t.equal(res.status, 200)
  t.same(Buffer.from(await res.arrayBuffer()), PNG, 'the same bytes the customer sent')
  t.equal(res.headers.get('content-type'), 'image/png')
  t.equal(res.headers.get('x-content-type-options'), 'nosniff')
  t.equal(res.headers.get('content-disposition'), 'inline')
  t.match(res.headers.get('content-security-policy'), /sandbox/)
  t.match(res.headers.get('cache-control'), /private/)

  t.equal((await get(p, img.media!.url as string, null)).status, 401, 'agents only')
  t.equal((await get(p, '/api/media/99999')).status, 404)

  // Another workspace's agent cannot read it.
  const ws2 = (await p.parley.sql.get<{ id: number }>(`INSERT INTO workspaces(name) VALUES ('Other') RETURNING id`))!
  await p.parley.app.services.auth.createUser({
    workspaceId: ws2.id,
    email: 'other@example.com',
    name: 'Other',
    password: 'another long password',
    role: 'admin',
  })
  const other = await p.parley.login({ email: 'other@example.com', password: 'another long password' })
  t.equal((await get(p, img.media!.url as string, other.token)).status, 404)
})

t.test('MEDIA_DIR apart from the data dir (a volume several processes share): files go there, nothing under DATA_DIR/media', async (t) => {
  const mediaDir = path.join(mkdtempSync(path.join(tmpdir(), 'parley-media-')), 'shared')
  t.teardown(() => rmSync(path.dirname(mediaDir), { recursive: true, force: true }))
  const p = await startPair(t, { env: { MEDIA_DIR: mediaDir } })
  await p.emu.customer('Maria', CUSTOMER)
  await p.emu.send(CUSTOMER, { type: 'image', data: PNG.toString('base64'), mimeType: 'image/png' })
  const conv = await conversation(p)
  const img = await until(async () => (await conv.messages()).find((m) => m.type === 'image' && m.media?.url), 'the image stored')
  const files = readdirSync(mediaDir).filter((f) => !f.endsWith('.part'))
  t.equal(files.length, 1, 'one file in MEDIA_DIR')
  t.same(readFileSync(path.join(mediaDir, files[0]!)), PNG, 'the customer’s bytes')
  const inDataDir = path.join(p.parley.dataDir, 'media')
  t.ok(!existsSync(inDataDir) || readdirSync(inDataDir).length === 0, 'DATA_DIR/media holds nothing')
  const res = await get(p, img.media!.url as string)
  t.same(Buffer.from(await res.arrayBuffer()), PNG, 'served from MEDIA_DIR')
})

t.test('a customer’s HTML “document” is never served as a page', async (t) => {
  const p = await startPair(t)
  await p.emu.customer('Mallory', CUSTOMER)
  const html = '<html><script>alert(1)</script></html>'
  await p.emu.send(CUSTOMER, {
    type: 'document',
    data: Buffer.from(html).toString('base64'),
    mimeType: 'text/html',
    filename: '../../invoice".html',
  })
  const conv = await conversation(p)
  const doc = await until(async () => (await conv.messages()).find((m) => m.type === 'document' && m.media?.url), 'stored')
  const res = await get(p, doc.media!.url as string)
  t.equal(await res.text(), html)
  t.equal(res.headers.get('content-type'), 'application/octet-stream')
  t.equal(res.headers.get('x-content-type-options'), 'nosniff')
  t.equal(res.headers.get('content-disposition'), `attachment; filename="invoice.html"; filename*=UTF-8''invoice.html`, 'no path, no quote')
})

t.test('agents send an image and a document; the customer gets the same bytes', async (t) => {
  const { p, conv, upload } = await agentChat(t, 'Can you send me the invoice?')
  const img = await upload(PNG, 'image/png', 'photo.png')
  t.equal(img.status, 201)
  t.match(img.body.media, { kind: 'image', mimeType: 'image/png', filename: 'photo.png', size: PNG.length })
  const pdfBytes = Buffer.from('%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n')
  const pdf = await upload(pdfBytes, 'application/pdf', 'invoice.pdf')
  t.equal(pdf.status, 201)
  t.equal(pdf.body.media.kind, 'document')

  const a = await p.call('POST', `/api/conversations/${conv.id}/messages`, {
    type: 'image',
    mediaId: img.body.media.id,
    caption: 'here you go',
    clientMessageId: 'img-1',
  })
  t.equal(a.status, 202)
  t.match(a.body.message, { type: 'image', text: 'here you go', media: { url: img.body.media.url } })
  const b = await p.call('POST', `/api/conversations/${conv.id}/messages`, { mediaId: pdf.body.media.id, clientMessageId: 'doc-1' })
  t.equal(b.status, 202)
  t.equal(b.body.message.type, 'document', 'the type follows the upload')

  const out = await until(async () => {
    const o = (await p.emu.messages(CUSTOMER)).filter((m) => m.direction === 'out')
    return o.length === 2 ? o : undefined
  }, 'both at the customer')
  t.same(p.emu.emulator.state.mediaData(out[0]!.media!.id), PNG)
  t.equal(out[0]!.text, 'here you go')
  t.same(p.emu.emulator.state.mediaData(out[1]!.media!.id), pdfBytes)
  t.equal(out[1]!.media!.filename, 'invoice.pdf')
  t.equal((await p.emu.stats()).uploads, 2)
  // The agent's own upload is viewable in the inbox too.
  t.same(Buffer.from(await (await get(p, img.body.media.url)).arrayBuffer()), PNG)
})

t.test('uploads are checked against their bytes and Meta’s limits', async (t) => {
  const p = await startPair(t)
  const upload = uploader(p)
  const fake = await upload(Buffer.from('<svg onload=alert(1)>'), 'image/png', 'x.png')
  t.equal(fake.status, 415)
  t.equal(fake.body.error.code, 'MEDIA_TYPE_UNSUPPORTED')
  t.equal((await upload(Buffer.from('MZ...'), 'application/x-msdownload', 'x.exe')).status, 415)
  const big = Buffer.concat([PNG.subarray(0, 8), Buffer.alloc(5 * 1024 * 1024)])
  const tooBig = await upload(big, 'image/png', 'big.png')
  t.equal(tooBig.status, 413)
  t.equal(tooBig.body.error.code, 'MEDIA_TOO_LARGE')
  const count = (await p.parley.sql.get<{ n: number }>('SELECT count(*) AS n FROM media'))!
  t.equal(count.n, 0, 'nothing kept')
})

t.test('agents send audio and a video on WhatsApp; the customer gets the same bytes, audio without a caption', async (t) => {
  const { p, conv, upload } = await agentChat(t, 'Can you send me the recording and the demo?')
  const OGG = oggOpus('wa-voice')
  const MP4 = mp4('wa-demo')
  const audio = await upload(OGG, 'audio/ogg', 'note.ogg')
  t.equal(audio.status, 201)
  t.match(audio.body.media, { kind: 'audio', mimeType: 'audio/ogg', filename: 'note.ogg', size: OGG.length })
  // Some systems name an .m4a audio/x-m4a: stored under Meta's name.
  const m4a = await upload(mp4('wa-m4a'), 'audio/x-m4a', 'song.m4a')
  t.match(m4a.body.media, { kind: 'audio', mimeType: 'audio/mp4' })
  const video = await upload(MP4, 'video/mp4', 'demo.mp4')
  t.equal(video.status, 201)
  t.equal(video.body.media.kind, 'video')

  // WhatsApp audio has no caption: refused with the named error, nothing stored or sent.
  const captioned = await p.call('POST', `/api/conversations/${conv.id}/messages`, {
    type: 'audio',
    mediaId: audio.body.media.id,
    caption: 'listen',
    clientMessageId: 'aud-0',
  })
  t.equal(captioned.status, 400)
  t.match(captioned.body, { error: { code: 'INVALID_MESSAGE', message: /no caption/ } })
  const asVideo = await p.call('POST', `/api/conversations/${conv.id}/messages`, {
    type: 'video',
    mediaId: audio.body.media.id,
    clientMessageId: 'aud-v',
  })
  t.equal(asVideo.status, 400, 'audio is not sent as a video')

  const a = await p.call('POST', `/api/conversations/${conv.id}/messages`, { mediaId: audio.body.media.id, clientMessageId: 'aud-1' })
  t.equal(a.status, 202)
  t.match(a.body.message, { type: 'audio', text: null, media: { url: audio.body.media.url, mimeType: 'audio/ogg', size: OGG.length } })
  const b = await p.call('POST', `/api/conversations/${conv.id}/messages`, {
    type: 'video',
    mediaId: video.body.media.id,
    caption: 'the demo',
    clientMessageId: 'vid-1',
  })
  t.equal(b.status, 202)
  t.match(b.body.message, {
    type: 'video',
    text: 'the demo',
    media: { url: video.body.media.url, mimeType: 'video/mp4', filename: 'demo.mp4' },
  })

  const out = await until(async () => {
    const o = (await p.emu.messages(CUSTOMER)).filter((m) => m.direction === 'out')
    return o.length === 2 ? o : undefined
  }, 'both at the customer')
  const byType = new Map(out.map((m) => [m.type, m]))
  t.same(p.emu.emulator.state.mediaData(byType.get('audio')!.media!.id), OGG, 'the audio bytes reached Meta')
  t.equal(byType.get('audio')!.media!.mimeType, 'audio/ogg')
  t.equal(byType.get('audio')!.text, null, 'no caption on the audio')
  t.same(p.emu.emulator.state.mediaData(byType.get('video')!.media!.id), MP4, 'the video bytes reached Meta')
  t.equal(byType.get('video')!.media!.mimeType, 'video/mp4')
  t.equal(byType.get('video')!.text, 'the demo')
  t.equal((await p.emu.stats()).uploads, 2)
  await until(
    async () => (await conv.messages()).filter((m) => m.direction === 'out' && m.status === 'delivered').length === 2 || undefined,
    'delivered',
  )
  const served = await get(p, audio.body.media.url)
  t.same(Buffer.from(await served.arrayBuffer()), OGG)
  t.equal(served.headers.get('content-type'), 'audio/ogg', 'played by <audio>…')
  t.match(served.headers.get('content-disposition'), /^attachment/, '…but never shown as a page')
  t.equal(served.headers.get('x-content-type-options'), 'nosniff')
})

t.test('audio and video uploads are checked against their bytes and WhatsApp’s 16 MB', async (t) => {
  const { p, conv, upload } = await agentChat(t, 'Hi')
  const vorbis = await upload(oggVorbis(), 'audio/ogg', 'x.ogg')
  t.equal(vorbis.status, 415, 'Ogg without Opus is not taken')
  t.equal(vorbis.body.error.code, 'MEDIA_TYPE_UNSUPPORTED')
  t.equal((await upload(Buffer.from('<html><script>alert(1)</script>'), 'video/mp4', 'x.mp4')).status, 415, 'an MP4 must start like one')
  t.equal((await upload(mp4('x'), 'video/quicktime', 'x.mov')).status, 415, 'a type WhatsApp does not play')
  t.equal((await upload(mp4('', 26 * 1024 * 1024), 'video/mp4', 'huge.mp4')).status, 413, 'over any channel’s limit')
  t.equal((await p.parley.sql.get<{ n: number }>('SELECT count(*) AS n FROM media'))!.n, 0, 'nothing kept')

  // 17 MB: Messenger would take it, WhatsApp does not — refused at send, nothing queued.
  const big = await upload(mp4('big', 17 * 1024 * 1024), 'video/mp4', 'big.mp4')
  t.equal(big.status, 201)
  const sent = await p.call('POST', `/api/conversations/${conv.id}/messages`, { mediaId: big.body.media.id, clientMessageId: 'big-1' })
  t.equal(sent.status, 413)
  t.match(sent.body, { error: { code: 'MEDIA_TOO_LARGE', message: /16 MB/ } })
  t.equal((await p.parley.sql.get<{ n: number }>(`SELECT count(*) AS n FROM messages WHERE direction = 'out'`))!.n, 0)
  t.equal((await p.emu.stats()).uploads, 0, 'nothing uploaded to Meta')
})
