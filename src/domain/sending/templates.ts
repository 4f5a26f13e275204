// Message templates: the only messages WhatsApp delivers outside the 24-hour window.
// Listed from GET /{waba_id}/message_templates and cached (Meta's management API
// allows 200 calls an hour per WABA). A send names a template, a language and the
// values of its parameters; they are checked here, before anything is queued, so an
// agent sees "2 values needed" instead of a failed message (132000).
import { GraphError } from '../../channels/graph-http.ts'
import type { GraphTemplate, GraphTemplateComponent, WhatsAppGraph } from '../../channels/whatsapp/graph-client.ts'
import type { TemplateMessage } from '../../channels/provider.ts'
import type { ChannelRow } from '../../store/inbox-store.ts'
import { Errors } from '../../errors.ts'

export interface TemplateParam {
  /** Positional ("1", "2", …) or named. */
  name: string
  example: string | null
}

export interface TemplateDTO {
  name: string
  language: string
  category: string | null
  status: string
  /** Text of each component as approved, with {{placeholders}}. */
  header: string | null
  body: string
  footer: string | null
  buttons: string[]
  headerParams: TemplateParam[]
  bodyParams: TemplateParam[]
  /** Parley can fill it in: text-only header and body parameters. */
  sendable: boolean
}

export interface TemplateSend {
  name: string
  language: string
  /** Values in the order of the template's parameters, or by name. */
  bodyParams?: string[] | Record<string, string>
  headerParams?: string[] | Record<string, string>
}

export interface BuiltTemplate {
  /** What the channel's provider sends (WhatsApp's `template` object: channels/whatsapp/send.ts). */
  message: TemplateMessage
  /** What the customer will read, for the bubble and the preview. */
  text: string
  data: Record<string, unknown>
}

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g
const HAS_PLACEHOLDER = /\{\{\s*[A-Za-z0-9_]+\s*\}\}/
// A parameter value may not contain newlines, tabs or more than 4 spaces in a row (132012).
const BAD_PARAM = /[\n\t]| {5,}/
const MAX_PARAM_LENGTH = 1024

export class TemplateService {
  private readonly cache = new Map<number, { at: number; templates: TemplateDTO[]; raw: GraphTemplate[] }>()
  private readonly inflight = new Map<number, Promise<{ templates: TemplateDTO[] }>>()

  constructor(
    private readonly graph: Pick<WhatsAppGraph, 'listTemplates'>,
    private readonly ttlMs: number,
    private readonly now: () => number,
  ) {}

  /** Approved templates of the channel's WhatsApp Business account. */
  async list(channel: ChannelRow, opts: { refresh?: boolean } = {}): Promise<TemplateDTO[]> {
    const hit = this.cache.get(channel.id)
    if (hit && !opts.refresh && this.now() - hit.at < this.ttlMs) return hit.templates
    let p = this.inflight.get(channel.id)
    if (!p) {
      p = this.fetch(channel).finally(() => this.inflight.delete(channel.id))
      this.inflight.set(channel.id, p)
    }
    try {
      return (await p).templates
    } catch (err) {
      // Stale beats nothing when Meta is briefly unreachable.
      if (hit) return hit.templates
      throw err
    }
  }

  private async fetch(channel: ChannelRow): Promise<{ templates: TemplateDTO[] }> {
    if (!channel.businessAccountId || !channel.accessToken) throw Errors.noChannel()
    let raw: GraphTemplate[]
    try {
      raw = await this.graph.listTemplates(channel.businessAccountId, channel.accessToken)
    } catch (err) {
      if (err instanceof GraphError) throw Errors.graphUnavailable()
      throw err
    }
    const templates = raw.filter((t) => t.status === 'APPROVED').map(toDTO)
    templates.sort((a, b) => a.name.localeCompare(b.name) || a.language.localeCompare(b.language))
    this.cache.set(channel.id, { at: this.now(), templates, raw })
    return { templates }
  }

  /** Validates a send against the approved template and builds the Graph object. */
  async build(channel: ChannelRow, send: TemplateSend): Promise<BuiltTemplate> {
    const t = (await this.list(channel)).find((x) => x.name === send.name && x.language === send.language)
    if (!t) throw Errors.templateNotFound()
    if (!t.sendable) throw Errors.templateParams('This template needs a media header or a button value, which Parley cannot fill in yet')
    const header = fill('header', t.headerParams, send.headerParams)
    const body = fill('body', t.bodyParams, send.bodyParams)
    const text = [t.header && render(t.header, header.values), render(t.body, body.values), t.footer]
      .filter((x): x is string => typeof x === 'string' && x.length > 0)
      .join('\n')
    return {
      message: { name: t.name, language: t.language, header: header.params, body: body.params },
      text,
      data: { template: { name: t.name, language: t.language, category: t.category, header: header.values, body: body.values } },
    }
  }
}

function toDTO(t: GraphTemplate): TemplateDTO {
  const comp = (type: string) => t.components.find((c) => String(c.type).toUpperCase() === type)
  const header = comp('HEADER')
  const body = comp('BODY')
  const footer = comp('FOOTER')
  const buttons = comp('BUTTONS')
  const headerIsText = !header || String(header.format ?? 'TEXT').toUpperCase() === 'TEXT'
  const buttonList = Array.isArray(buttons?.buttons) ? (buttons.buttons as Record<string, unknown>[]) : []
  // A URL button with a {{1}} suffix needs a value Parley does not collect yet.
  const dynamicButton = buttonList.some((b) => typeof b.url === 'string' && HAS_PLACEHOLDER.test(b.url))
  return {
    name: t.name,
    language: t.language,
    category: t.category ?? null,
    status: t.status,
    header: headerIsText && typeof header?.text === 'string' ? header.text : null,
    body: typeof body?.text === 'string' ? body.text : '',
    footer: typeof footer?.text === 'string' ? footer.text : null,
    buttons: buttonList.map((b) => String(b.text ?? '')).filter(Boolean),
    headerParams: headerIsText && header ? paramsOf(header, 'header') : [],
    bodyParams: body ? paramsOf(body, 'body') : [],
    sendable: headerIsText && !dynamicButton,
  }
}

function paramsOf(c: GraphTemplateComponent, kind: 'header' | 'body'): TemplateParam[] {
  const text = typeof c.text === 'string' ? c.text : ''
  const names: string[] = []
  for (const m of text.matchAll(PLACEHOLDER)) if (!names.includes(m[1]!)) names.push(m[1]!)
  const ex = c.example as Record<string, unknown> | undefined
  // Meta's examples: positional header_text: [..], body_text: [[..]]; named *_named_params: [{param_name, example}].
  const positional = kind === 'header' ? (ex?.header_text as unknown[] | undefined) : (ex?.body_text as unknown[][] | undefined)?.[0]
  const named = (kind === 'header' ? ex?.header_text_named_params : ex?.body_text_named_params) as
    | { param_name?: string; example?: string }[]
    | undefined
  return names.map((name, i) => ({
    name,
    example: named?.find((n) => n.param_name === name)?.example ?? (typeof positional?.[i] === 'string' ? (positional[i] as string) : null),
  }))
}

function fill(
  where: 'header' | 'body',
  params: TemplateParam[],
  given: string[] | Record<string, string> | undefined,
): { params: TemplateMessage['body']; values: Record<string, string> } {
  const values: Record<string, string> = {}
  const positional = params.every((p) => /^\d+$/.test(p.name))
  if (Array.isArray(given)) {
    // Values in the order the parameters are listed (for named ones too).
    if (given.length !== params.length) {
      throw Errors.templateParams(`The ${where} needs ${params.length} value${params.length === 1 ? '' : 's'}, got ${given.length}`)
    }
    for (const [i, p] of params.entries()) values[p.name] = given[i]!
  } else {
    const obj = given ?? {}
    const missing = params.filter((p) => typeof obj[p.name] !== 'string')
    if (missing.length) throw Errors.templateParams(`The ${where} is missing: ${missing.map((p) => p.name).join(', ')}`)
    const extra = Object.keys(obj).filter((k) => !params.some((p) => p.name === k))
    if (extra.length) throw Errors.templateParams(`The ${where} has no parameter ${extra.join(', ')}`)
    for (const p of params) values[p.name] = obj[p.name]!
  }
  for (const [name, v] of Object.entries(values)) {
    if (v.trim() === '') throw Errors.templateParams(`The ${where} value ${name} is empty`)
    if (v.length > MAX_PARAM_LENGTH || BAD_PARAM.test(v)) {
      throw Errors.templateParams(`The ${where} value ${name} may not contain line breaks, tabs or long runs of spaces`)
    }
  }
  const out = params.map((p) => ({ name: positional ? null : p.name, text: values[p.name]! }))
  return { params: out, values }
}

function render(text: string, values: Record<string, string>): string {
  return text.replace(PLACEHOLDER, (whole, name: string) => values[name] ?? whole)
}
