// Opting out of campaigns (issue 7): stop keywords in several languages, Meta's 131050,
// an agent's reversal — and campaigns skipping (and counting) opted-out contacts.
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { OptOutKeywords } from '../src/domain/campaigns/opt-out.ts'
import { DEFAULTS } from '../src/config.ts'
import { startPair, until, type Pair } from './helpers/emulator.ts'
import { connectSse } from './helpers/sse.ts'
import { action, contactsCsv, createCampaign, importCsv, play, recipientPhone, recipients, waitCampaign } from './helpers/campaigns.ts'
import type { ContactDetailDTO } from '../src/events/types.ts'

t.test('stop keywords: the whole message, any case, accents and punctuation ignored', async (t) => {
  const k = new OptOutKeywords(DEFAULTS.OPT_OUT_KEYWORDS.split(','))
  for (const yes of [
    'STOP',
    'stop',
    ' Stop. ',
    'STOP!!',
    '¡BAJA!',
    'baja',
    'Darme de baja',
    'Parar',
    'parar 🙏',
    'ARRÊT',
    'arret',
    'Stopp',
    'Unsubscribe',
    'opt-out',
    'Opt out',
    'DESCADASTRAR',
    'no más',
  ]) {
    t.ok(k.matches(yes), `"${yes}" opts out`)
  }
  for (const no of [
    'please don’t stop',
    'stop by tomorrow?',
    'Stoppage',
    'cancel',
    'end',
    'bajamos el precio?',
    '',
    null,
    'STOP'.repeat(40),
  ]) {
    t.notOk(k.matches(no), `"${no}" does not`)
  }
  t.ok(new OptOutKeywords(['Fim']).matches('FIM!'), 'the list is configurable (OPT_OUT_KEYWORDS)')
})

async function contactByPhone(p: Pair, phone: string): Promise<ContactDetailDTO> {
  const list = (await p.call('GET', `/api/contacts?q=${phone}`)).body.contacts as ContactDetailDTO[]
  const c = list.find((x) => x.phone === phone)
  if (!c) throw new Error(`no contact ${phone}`)
  return c
}

t.test('a customer writes STOP: opted out with the time and the words; campaigns skip them; an agent reverses it', async (t) => {
  const p = await startPair(t)
  const sse = await connectSse(`${p.parley.url}/stream`, { token: p.token })
  t.teardown(() => sse.close())
  const maria = '15550001111'
  const joao = '15550002222'
  await p.emu.customer('Maria', maria)
  await p.emu.customer('João', joao)
  await importCsv(p, `phone,name,order,tags\n+${maria},Maria,#1,vip\n+${joao},João,#2,vip\n`)
  await p.emu.say(maria, 'Hello')
  t.equal((await contactByPhone(p, maria)).optOut, null, 'an ordinary message changes nothing')
  const stop = await p.emu.say(maria, '¡Baja!')
  const out = await contactByPhone(p, maria)
  t.equal(out.optOut?.source, 'keyword')
  t.equal(out.optOut?.text, '¡Baja!')
  t.equal(out.optOut?.at, Math.floor(stop.timestamp / 1000) * 1000, 'the time of the message that did it')
  await sse.waitFor((evs) => evs.some((e) => e.event === 'contact.updated' && e.data.includes('"source":"keyword"')))
  // The message itself is an ordinary inbound message in the inbox.
  const conv = (await p.call('GET', '/api/conversations')).body.conversations.find(
    (c: { contact: { phone: string } }) => c.contact.phone === maria,
  )
  t.equal(conv.lastMessagePreview, '¡Baja!')
  t.same(
    (await p.call('GET', '/api/contacts?optedOut=true')).body.contacts.map((c: ContactDetailDTO) => c.phone),
    [maria],
  )

  const c1 = await createCampaign(p)
  await action(p, c1.id, 'start', {})
  const done = await waitCampaign(p, c1.id, (c) => c.status === 'completed' && c.counts.delivered === 1, 'completed')
  t.equal(done.counts.skipped, 1)
  t.same(done.skips, [{ reason: 'opted_out', label: 'Opted out', count: 1 }])
  t.equal((await p.emu.messages(maria)).filter((m) => m.direction === 'out').length, 0, 'Maria received nothing')
  t.equal((await p.emu.messages(joao)).filter((m) => m.direction === 'out').length, 1)

  // Only an agent reverses it; the next campaign reaches her.
  const back = await p.call('POST', `/api/contacts/${out.id}/opt-out`, { optedOut: false })
  t.equal(back.body.contact.optOut, null)
  const c2 = await createCampaign(p, { name: 'Again' })
  await action(p, c2.id, 'start', {})
  await waitCampaign(p, c2.id, (c) => c.status === 'completed' && c.counts.delivered === 2, 'second campaign delivered to both')
  t.equal((await p.emu.messages(maria)).filter((m) => m.direction === 'out').length, 1)

  // Writing STOP again after the reversal opts her out again.
  await p.emu.say(maria, 'STOP')
  t.equal((await contactByPhone(p, maria)).optOut?.text, 'STOP')
})

t.test("Meta's 131050 opts the contact out of marketing; a reversal holds, even across a restart", async (t) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'parley-optout-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  // Half the list refusing would pause the campaign as an error flood; not the point here.
  const env = { CAMPAIGN_FAILURE_PAUSE_RATIO: '1' }
  let p = await startPair(t, { dataDir, env })
  const player = play(p, { failures: { 131050: 0.4 } })
  await importCsv(p, contactsCsv(20))
  const c = await createCampaign(p)
  await action(p, c.id, 'start', {})
  const done = await waitCampaign(
    p,
    c.id,
    (x) => x.status === 'completed' && x.counts.failed === player.outcomes.failed[131050],
    'completed',
  )
  t.ok(done.counts.failed > 0)
  t.equal(done.failures[0]?.code, 131050)
  t.match(done.failures[0]?.reason, /opted out of marketing/)
  const refused = (await recipients(p, c.id, 'failed')).map((r) => r.contact.id)
  const opted = await until(async () => {
    const list = (await p.call('GET', '/api/contacts?optedOut=true&limit=200')).body.contacts as ContactDetailDTO[]
    return list.length === refused.length ? list : undefined
  }, 'every 131050 recipient opted out')
  t.same(opted.map((x) => x.id).sort(), [...refused].sort())
  t.ok(opted.every((x) => x.optOut?.source === 'meta_131050'))

  // The next campaign skips them, and counts them.
  const c2 = await createCampaign(p, { name: 'Next' })
  await action(p, c2.id, 'start', {})
  const done2 = await waitCampaign(p, c2.id, (x) => x.status === 'completed', 'second completed')
  t.equal(done2.counts.skipped, refused.length)
  t.same(player.tally().twice.length, 20 - refused.length, 'only the others were messaged again')

  // An agent reverses one. A restart (the catch-up of 131050 failures) does not undo that.
  const first = refused[0]!
  await p.call('POST', `/api/contacts/${first}/opt-out`, { optedOut: false })
  // And one whose mark was lost (the process died between the failure and the mark)
  // is found by the catch-up.
  const second = refused[1]!
  await p.parley.sql.run(`UPDATE contacts SET opted_out_at = NULL, opt_out_source = NULL WHERE id = ?`, [second])
  await p.parley.close()
  p = await startPair(t, { dataDir, env })
  const afterRestart = async (id: number) => (await p.call('GET', `/api/contacts/${id}`)).body.contact as ContactDetailDTO
  await until(async () => (await afterRestart(second)).optOut !== null, 'the lost mark is restored at start')
  t.equal((await afterRestart(second)).optOut?.source, 'meta_131050')
  t.equal((await afterRestart(first)).optOut, null, 'the reversed one stays reversed')
  void recipientPhone
})
