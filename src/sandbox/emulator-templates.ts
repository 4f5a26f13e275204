// The sandbox WABA's templates, in the shape GET /{waba_id}/message_templates returns
// (W-TEMPLATES): approved ones with positional and named parameters, one with quick
// reply buttons (the simulator's "button tap"), and some that are not sendable.

export interface SandboxTemplate {
  id: string
  name: string
  language: string
  status: 'APPROVED' | 'PENDING' | 'REJECTED' | 'PAUSED'
  category: 'UTILITY' | 'MARKETING' | 'AUTHENTICATION'
  parameter_format: 'POSITIONAL' | 'NAMED'
  components: Record<string, unknown>[]
}

export const SANDBOX_TEMPLATES: SandboxTemplate[] = [
  {
    id: '900000000000001',
    name: 'hello_world',
    language: 'en_US',
    status: 'APPROVED',
    category: 'UTILITY',
    parameter_format: 'POSITIONAL',
    components: [
      { type: 'HEADER', format: 'TEXT', text: 'Hello World' },
      {
        type: 'BODY',
        text: 'Welcome and congratulations!! This message demonstrates your ability to send a WhatsApp message notification from the Cloud API, hosted by Meta. Thank you for taking the time to test with us.',
      },
      { type: 'FOOTER', text: 'WhatsApp Business Platform sample message' },
    ],
  },
  {
    id: '900000000000002',
    name: 'order_update',
    language: 'en',
    status: 'APPROVED',
    category: 'UTILITY',
    parameter_format: 'POSITIONAL',
    components: [
      {
        type: 'BODY',
        text: 'Hi {{1}}, your order {{2}} has shipped and should arrive by {{3}}.',
        example: { body_text: [['Maria', '#1042', 'Friday']] },
      },
      {
        type: 'BUTTONS',
        buttons: [
          { type: 'QUICK_REPLY', text: 'Track my order' },
          { type: 'QUICK_REPLY', text: 'Talk to someone' },
        ],
      },
    ],
  },
  {
    id: '900000000000003',
    name: 'follow_up',
    language: 'en',
    status: 'APPROVED',
    category: 'UTILITY',
    parameter_format: 'NAMED',
    components: [
      {
        type: 'BODY',
        text: 'Hi {{first_name}}, we have an answer to your question about {{topic}}. Reply to this message to continue.',
        example: {
          body_text_named_params: [
            { param_name: 'first_name', example: 'Maria' },
            { param_name: 'topic', example: 'your delivery' },
          ],
        },
      },
    ],
  },
  {
    id: '900000000000004',
    name: 'appointment_reminder',
    language: 'fr',
    status: 'APPROVED',
    category: 'UTILITY',
    parameter_format: 'POSITIONAL',
    components: [
      { type: 'HEADER', format: 'TEXT', text: 'Rappel' },
      {
        type: 'BODY',
        text: 'Bonjour {{1}}, nous vous rappelons votre rendez-vous du {{2}}.',
        example: { body_text: [['Marie', '12 mars à 10 h']] },
      },
    ],
  },
  {
    id: '900000000000005',
    name: 'spring_sale',
    language: 'en',
    status: 'PENDING',
    category: 'MARKETING',
    parameter_format: 'POSITIONAL',
    components: [{ type: 'BODY', text: 'Spring sale: 20% off everything this week.' }],
  },
  {
    id: '900000000000006',
    name: 'old_offer',
    language: 'en',
    status: 'REJECTED',
    category: 'MARKETING',
    parameter_format: 'POSITIONAL',
    components: [{ type: 'BODY', text: 'Buy now!!!' }],
  },
]

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g

export function placeholders(text: string): string[] {
  const out: string[] = []
  for (const m of text.matchAll(PLACEHOLDER)) if (!out.includes(m[1]!)) out.push(m[1]!)
  return out
}

export function renderTemplate(text: string, values: Record<string, string>): string {
  return text.replace(PLACEHOLDER, (whole, name: string) => values[name] ?? whole)
}
