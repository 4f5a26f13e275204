// Reports (issue 15), admins only (an agent's 403 FORBIDDEN: the figures compare the team's
// people and every channel): GET /api/reports/summary?from=&to=&groupBy=day|week|agent|channel
// &hours=business|all → {rows, totals} (domain/reports/reports.ts), and the same as CSV at
// /api/reports/summary.csv. Bad parameters are 400 BAD_REPORT_QUERY with what is wrong.
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { summaryCsv } from '../domain/reports/reports.ts'
import type { Services } from '../services.ts'

// Loose on purpose: the domain names what is wrong (BAD_REPORT_QUERY) instead of a generic VALIDATION_FAILED.
const Query = Type.Object({
  from: Type.Optional(Type.String({ maxLength: 40 })),
  to: Type.Optional(Type.String({ maxLength: 40 })),
  groupBy: Type.Optional(Type.String({ maxLength: 40 })),
  hours: Type.Optional(Type.String({ maxLength: 40 })),
})

export async function reportRoutes(app: FastifyInstance, opts: { services: Services }) {
  const { reports } = opts.services
  const r = app.withTypeProvider<TypeBoxTypeProvider>()
  const admin = { onRequest: app.authenticate, preValidation: app.requireAdmin, schema: { querystring: Query } }

  r.get('/api/reports/summary', admin, async (req) => {
    const { rows, totals, ...range } = await reports.summary(req.session.workspaceId, req.query)
    return { rows, totals, ...range }
  })

  r.get('/api/reports/summary.csv', admin, async (req, reply) => {
    const s = await reports.summary(req.session.workspaceId, req.query)
    await opts.services.units.transact(() =>
      opts.services.audit.recordUnit({
        workspaceId: req.session.workspaceId,
        actor: { userId: req.session.userId, ip: req.ip },
        action: 'report.exported',
        detail: { from: s.from, to: s.to, groupBy: s.groupBy, hours: s.hours },
      }),
    )
    return reply
      .header('content-type', 'text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="parley-report-${s.groupBy}-${s.from}-${s.to}.csv"`)
      .send(summaryCsv(s))
  })
}
