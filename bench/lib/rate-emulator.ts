// Child entry for the ownership-rate workload (issue 17, proof 3): the Meta emulator on its
// own loopback listener (the outside world: it outlives the Parley process that is stopped),
// one WhatsApp number whose throughput rule is the rate under test (130429 past `RATE_EMULATOR_RATE`
// accepted sends in a calendar second). What the workload reads is the emulator's own record:
// its per-second request counts for the number and every text message it accepted, with the
// moment it accepted it.
import { startEmulatorServer } from '../../src/sandbox/standalone.ts'
import { serve } from './proc.ts'
import { APP_SECRET, PHONE_NUMBER_ID, WABA_ID } from './wa.ts'

// The token startParleys (cluster-procs.ts) gives every process.
const GRAPH_TOKEN = 'bench-graph-token'

async function main() {
  const rate = Number(process.env.RATE_EMULATOR_RATE ?? 80)
  const server = await startEmulatorServer({
    numbers: [{ phoneNumberId: PHONE_NUMBER_ID, displayPhoneNumber: '15550001000', wabaId: WABA_ID, accessToken: GRAPH_TOKEN }],
    appSecret: APP_SECRET,
    // A phone nearby: sent and delivered within a fraction of a second (statuses due together
    // go in one webhook, as Meta batches them).
    statusDelays: { sentMs: 100, deliveredMs: 400, readMs: 0 },
    ratePerSecond: rate,
    webhookRetry: { baseMs: 200, capMs: 2000 },
  })
  const e = server.emulator
  const rpc = serve(
    {
      webhookUrl: (a: { url: string }) => {
        e.setWebhookUrl(a.url)
        return true
      },
      /** `n` customers, each writing one message to the number (a signed webhook to Parley). */
      customersWrite: async (a: { n: number; concurrency: number }) => {
        const phones = Array.from({ length: a.n }, (_, i) => String(4915100000000 + i))
        let next = 0
        let undelivered = 0
        await Promise.all(
          Array.from({ length: a.concurrency }, async () => {
            for (let i = next++; i < phones.length; i = next++) {
              e.createCustomer({ name: `Customer ${i}`, phone: phones[i]! })
              const out = await e.customerSend(phones[i]!, { type: 'text', text: `Hello, order #${i}` })
              if (!out.delivered) undelivered++
            }
          }),
        )
        return { phones, undelivered }
      },
      /** The number's request counts per second (Unix second → requests) and the outcomes. */
      stats: () => {
        const s = e.stats()
        return {
          sendRequests: s.sendRequests,
          accepted: s.accepted,
          rejected: s.rejected,
          perSecond: s.requestsPerSecond[PHONE_NUMBER_ID] ?? {},
          webhooksPending: s.webhooksPending,
        }
      },
      /** `n` customers Meta knows (a campaign's audience; they have not written). */
      customers: (a: { phones: string[] }) => {
        for (const [i, phone] of a.phones.entries()) e.createCustomer({ name: `Customer ${i}`, phone })
        return a.phones.length
      },
      /** How many messages the number sent (cheap, polled during the run). */
      acceptedTexts: () => e.state.messages.reduce((n, m) => n + (m.direction === 'out' && m.phoneNumberId === PHONE_NUMBER_ID ? 1 : 0), 0),
      /** Every message the number sent: to whom, its text and when the emulator accepted it (ms). */
      sends: () =>
        e.state.messages
          .filter((m) => m.direction === 'out' && m.phoneNumberId === PHONE_NUMBER_ID)
          .map((m) => ({ customer: m.customer, text: m.text ?? '', at: m.timestamp })),
    },
    () => server.close(),
  )
  rpc.ready({ graphUrl: server.graphUrl, url: server.url })
}

main().catch((err) => {
  process.send?.({ type: 'failed', error: err instanceof Error ? err.stack : String(err) })
  process.exit(1)
})
