// Issue 15: a Messenger conversation's transcript — the Page and the person's PSID in the
// header (a Messenger person has no phone number), the customer's text, an attachment, a
// message the Page sent from elsewhere (an echo), a note kept out unless asked for, and the
// person's name escaped in the HTML.
import t from 'tap'
import { startServer, APP_SECRET } from './helpers/server.ts'
import { PAGE_ID, echoItem, item, mid, pageWebhook, postMessenger } from './helpers/ms.ts'

const PSID = '7000000000000042'

t.test('a Messenger transcript names the Page and the PSID, in text and HTML', async (t) => {
  const s = await startServer(t)
  const { token } = await s.login()
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${s.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    })
    return res
  }
  const page = await call('POST', '/api/channels', { kind: 'messenger', externalId: PAGE_ID, name: 'Sofa <Shop>', accessToken: 'EAAPAGE' })
  t.equal(page.status, 201)
  const base = Date.now() - 60_000
  const res = await postMessenger(
    s.url,
    pageWebhook(
      item(PSID, { message: { mid: mid(), text: 'Is the <b>blue</b> sofa in stock?' } }, PAGE_ID, base),
      item(
        PSID,
        { message: { mid: mid(), attachments: [{ type: 'image', payload: { url: 'https://cdn.example/sofa.jpg' } }] } },
        PAGE_ID,
        base + 1000,
      ),
      echoItem(PSID, { mid: mid(), text: 'Yes, two left!' }, PAGE_ID, base + 2000),
    ),
    APP_SECRET,
  )
  t.equal(res.status, 200)
  const list = (await (await call('GET', '/api/conversations')).json()) as { conversations: Array<{ id: number; channelKind?: string }> }
  const conv = list.conversations.find((c) => c.channelKind === 'messenger') ?? list.conversations[0]!
  t.equal((await call('POST', `/api/conversations/${conv.id}/notes`, { text: 'Hold one for her' })).status, 201)

  const text = await (await call('GET', `/api/conversations/${conv.id}/transcript?format=text&notes=false`)).text()
  t.match(text, /Messenger/, 'the service')
  t.match(text, new RegExp(`PSID ${PSID}`), 'the person by PSID, not a phone number')
  t.match(text, /Is the <b>blue<\/b> sofa in stock\?/, 'the customer text, as written')
  t.match(text, /Yes, two left!/, "the Page's own message from elsewhere")
  t.match(text, /image/i, 'the attachment is listed')
  t.notMatch(text, /Hold one for her/, 'notes left out')

  const withNotes = await (await call('GET', `/api/conversations/${conv.id}/transcript?format=text&notes=true`)).text()
  t.match(withNotes, /Hold one for her/, 'notes when asked for')

  const htmlRes = await call('GET', `/api/conversations/${conv.id}/transcript?format=html&notes=false`)
  t.equal(htmlRes.status, 200)
  t.match(htmlRes.headers.get('content-type') ?? '', /text\/html/)
  const html = await htmlRes.text()
  t.match(html, /Is the &lt;b&gt;blue&lt;\/b&gt; sofa in stock\?/, 'escaped in the HTML')
  t.notMatch(html, /<b>blue<\/b>/, 'never markup')
  t.match(html, /Sofa &lt;Shop&gt;/, "the Page's name escaped")
  t.match(html, new RegExp(`PSID ${PSID}`))
})
