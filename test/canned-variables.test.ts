// The canned reply renderer (issue 14), pure: variables with and without values,
// fallbacks, whitespace, unknown and malformed variables, attributes, and HTML or script
// text in a value staying literal text.
import t from 'tap'
import { render, showUnknown, unknownVariableMessage, validate, type CannedContact } from '../src/domain/canned/variables.ts'

const ana: CannedContact = {
  name: 'Ana Sousa Lima',
  profileName: 'ana.s',
  phone: '351912345678',
  kind: 'whatsapp',
  externalId: '351912345678',
  attributes: { tier: 'gold', 'Order Total': '42 €' },
}
const agent = { name: 'Ben' }
const empty: CannedContact = { name: null, profileName: null, phone: null, kind: 'messenger', externalId: '8000123', attributes: null }

t.test('every variable with a value', async (t) => {
  const out = render('Hi {{contact.first_name}} ({{contact.name}}, {{contact.phone}}), {{agent.name}} here. Tier: {{contact.tier}}', {
    contact: ana,
    agent,
  })
  t.same(out, { text: 'Hi Ana (Ana Sousa Lima, 351912345678), Ben here. Tier: gold', missing: [], unknown: [] })
})

t.test('whitespace and case inside the braces do not matter', async (t) => {
  const out = render('{{ contact.first_name }}|{{contact.name}}|{{  Contact.First_Name  |  x }}|{{agent . name}}', { contact: ana, agent })
  t.equal(out.text, 'Ana|Ana Sousa Lima|Ana|Ben')
  t.same(out.unknown, [])
})

t.test('no value: the fallback, or empty and listed as missing', async (t) => {
  const out = render('Hi {{contact.first_name | there}}, {{ contact.name|friend of ours }}! {{contact.first_name}}{{contact.phone}}.', {
    contact: empty,
    agent,
  })
  t.equal(out.text, 'Hi there, friend of ours! .')
  t.same(out.missing, ['contact.first_name', 'contact.phone'], 'each once, in order')
  t.same(out.unknown, [])
  const blank = render('[{{contact.first_name | }}]', { contact: empty, agent })
  t.same(blank, { text: '[]', missing: [], unknown: [] }, 'an explicitly empty fallback is not missing')
  t.equal(render('{{contact.first_name|x}}', { contact: ana, agent }).text, 'Ana', 'a value wins over the fallback')
})

t.test('names: the profile name stands in for a missing name; a blank value is no value', async (t) => {
  const c: CannedContact = { name: '   ', profileName: 'Zé Carlos', phone: null, attributes: { tier: '  ' } }
  const out = render('{{contact.first_name}}/{{contact.name}}/{{contact.tier|none}}', { contact: c, agent })
  t.equal(out.text, 'Zé/Zé Carlos/none')
  t.equal(
    render('{{contact.phone}}', { contact: { ...empty, kind: 'whatsapp', externalId: '4915100000001' }, agent }).text,
    '4915100000001',
    'a WhatsApp wa_id is the number',
  )
  t.same(render('{{contact.phone}}', { contact: empty, agent }).missing, ['contact.phone'], 'a Messenger PSID is not a phone')
})

t.test('attribute variables: the contact’s keys, exactly; others per the workspace rule', async (t) => {
  t.equal(render('{{contact.Order Total}}', { contact: ana, agent }).text, '42 €', 'a key with a space')
  const known = (k: string) => k === 'city'
  const out = render('{{contact.city | somewhere}} {{contact.tier}} {{contact.shoe}}', { contact: ana, agent }, { knownAttribute: known })
  t.equal(out.text, 'somewhere gold ')
  t.same(out.unknown, ['contact.shoe'])
  t.same(validate('{{contact.city}} {{contact.shoe}} {{contact.first_name}}', { knownAttribute: known }), ['contact.shoe'])
  t.same(validate('{{contact.anything}}'), [], 'with no rule given, any attribute key is allowed')
})

t.test('unknown variables are never rendered raw', async (t) => {
  const text = 'Total {{order.total}} for {{ agent.email }} {{}} {{contact.}} {{name}}'
  t.same(validate(text), ['order.total', 'agent.email', '', 'contact.', 'name'])
  const out = render(text, { contact: ana, agent })
  t.equal(out.text, 'Total  for    ')
  t.notMatch(out.text, /\{\{|order/)
  t.same(out.unknown, ['order.total', 'agent.email', '', 'contact.', 'name'])
  t.match(unknownVariableMessage(['order.total']), /^Unknown variable \{\{order\.total\}\}\. Use \{\{contact\.first_name\}\}/)
})

t.test('malformed braces', async (t) => {
  t.same(validate('Hi {{contact.name, welcome'), ['{{contact.name, welcome'], 'an unclosed variable is refused, not sent raw')
  t.same(validate('Hi {{contact.name {{agent.name}}'), ['{{contact.name'], 'a second opening before the close')
  t.equal(showUnknown('{{contact.name'), '{{contact.name (not closed with }})')
  t.same(validate('Prices {from 5} to }} and { {x} }'), [], 'single braces and a lone }} are text')
  t.equal(render('{{{contact.first_name}}}', { contact: ana, agent }).text, '{Ana}', 'extra braces around a variable stay text')
  t.equal(render('no variables at all', { contact: ana, agent }).text, 'no variables at all')
  t.equal(render('', { contact: ana, agent }).text, '')
})

t.test('HTML and script text in a value stays literal text', async (t) => {
  const evil: CannedContact = {
    name: '<script>alert(1)</script> <b>x</b>',
    phone: null,
    attributes: { note: '<img src=x onerror=alert(2)>', braces: '{{agent.name}}' },
  }
  const out = render('Hi {{contact.name}} {{contact.first_name}} {{contact.note}} {{contact.braces}}', { contact: evil, agent })
  t.equal(out.text, 'Hi <script>alert(1)</script> <b>x</b> <script>alert(1)</script> <img src=x onerror=alert(2)> {{agent.name}}')
  t.same(out.unknown, [], 'a value is never read as a template again')
  t.equal(render('{{contact.first_name | <i>you</i>}}', { contact: empty, agent }).text, '<i>you</i>', 'nor is a fallback escaped')
})
