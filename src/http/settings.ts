// Workspace settings (issue 13): the assignment cap, business hours with their timezone,
// and the automatic replies' texts. Everyone signed in may read them (the inbox shows
// whether the team is open); only admins change them. Units of work (issue 17), on either database.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { hoursProblem, isValidTimeZone, WEEKDAYS, type BusinessHours, type OpenRange } from '../domain/team/business-hours.ts'
import type { WorkspaceSettings } from '../store/workspace-settings.ts'
import { Errors } from '../errors.ts'
import type { Services } from '../services.ts'

const Range = Type.Object(
  {
    from: Type.String({ pattern: '^(([01]\\d|2[0-3]):[0-5]\\d|24:00)$' }),
    to: Type.String({ pattern: '^(([01]\\d|2[0-3]):[0-5]\\d|24:00)$' }),
  },
  { additionalProperties: false },
)
const Day = Type.Optional(Type.Array(Range, { maxItems: 12 }))
const Hours = Type.Object(
  {
    weekly: Type.Object(Object.fromEntries(WEEKDAYS.map((d) => [d, Day])) as Record<(typeof WEEKDAYS)[number], typeof Day>, {
      additionalProperties: false,
    }),
    holidays: Type.Array(Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' }), { maxItems: 400 }),
  },
  { additionalProperties: false },
)
const Text = Type.Union([Type.String({ maxLength: 1024 }), Type.Null()])

const Patch = Type.Object(
  {
    assignmentCap: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    timezone: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    businessHours: Type.Optional(Type.Union([Hours, Type.Null()])),
    awayMessage: Type.Optional(Text),
    greetingMessage: Type.Optional(Text),
  },
  { additionalProperties: false },
)

/** A blank text is no text: the reply is off. */
const textOrNull = (t: string | null | undefined) => (t === undefined ? undefined : t === null || t.trim() === '' ? null : t)

export async function settingsRoutes(app: FastifyInstance, opts: { services: Services }) {
  const { units } = opts.services
  const settings = opts.services.settings
  const r = app.withTypeProvider<TypeBoxTypeProvider>()
  app.addHook('onRequest', app.authenticate)
  const adminOnly = async (req: FastifyRequest) => {
    if (req.session.role !== 'admin') throw Errors.forbidden()
  }
  const answer = (s: WorkspaceSettings | undefined): { settings: WorkspaceSettings } => {
    if (!s) throw Errors.notFound('Workspace')
    return { settings: s }
  }
  const read = async (ws: number) => answer(await units.read(() => settings.get(ws)))

  r.get('/api/settings/workspace', async (req) => read(req.session.workspaceId))

  r.patch('/api/settings/workspace', { preHandler: adminOnly, schema: { body: Patch } }, async (req) => {
    const b = req.body
    if (b.timezone !== undefined && !isValidTimeZone(b.timezone)) {
      throw Errors.settingsInvalid(`${b.timezone} is not a timezone Parley knows (an IANA name such as Europe/Lisbon)`)
    }
    let hours: BusinessHours | null | undefined
    if (b.businessHours) {
      // Stored in a fixed shape: each day in order, each day's ranges by start, holidays sorted once.
      const weekly: Partial<Record<(typeof WEEKDAYS)[number], OpenRange[]>> = {}
      for (const d of WEEKDAYS) {
        const ranges = b.businessHours.weekly[d]
        if (ranges && ranges.length > 0)
          weekly[d] = [...ranges].sort((x, y) => x.from.localeCompare(y.from)).map(({ from, to }) => ({ from, to }))
      }
      hours = { weekly, holidays: [...new Set(b.businessHours.holidays)].sort() }
      const problem = hoursProblem(hours)
      if (problem) throw Errors.settingsInvalid(problem)
    } else hours = b.businessHours
    const ws = req.session.workspaceId
    const patch = {
      assignmentCap: b.assignmentCap,
      timezone: b.timezone,
      businessHours: hours,
      awayMessage: textOrNull(b.awayMessage),
      greetingMessage: textOrNull(b.greetingMessage),
    }
    const after = await units.transact(() => settings.update(ws, patch))
    // Again after the commit: a reader in between may have cached the old row (PostgreSQL).
    settings.forget(ws)
    return answer(after)
  })
}
