// Child entry for the campaign benchmark: the Meta emulator on its own loopback
// listener (as in the tests, it is the outside world), playing the audience with the
// sandbox's recipient behaviour and counting, per number, every template message it
// accepted. Meta's throughput rule (130429 past 80 accepted sends in a second) is on.
import { startEmulatorServer } from '../src/sandbox/standalone.ts'
import { RecipientPlayer } from '../src/sandbox/emulator-campaign.ts'
import { serve } from './lib/proc.ts'
import { APP_SECRET, PHONE_NUMBER_ID, WABA_ID } from './lib/wa.ts'

export const BENCH_GRAPH_TOKEN = 'bench-graph-token'

async function main() {
  const rate = Number(process.env.CAMPAIGN_EMULATOR_RATE ?? 80)
  const server = await startEmulatorServer({
    numbers: [{ phoneNumberId: PHONE_NUMBER_ID, displayPhoneNumber: '15550001000', wabaId: WABA_ID, accessToken: BENCH_GRAPH_TOKEN }],
    appSecret: APP_SECRET,
    // A phone nearby: sent and delivered within a fraction of a second.
    statusDelays: { sentMs: 100, deliveredMs: 400, readMs: 0 },
    ratePerSecond: rate,
    webhookRetry: { baseMs: 200, capMs: 2000 },
  })
  // Realistic shares: a few undeliverable numbers and marketing limits, most delivered,
  // half read, a few replies (half of them quoting the campaign message).
  const player = new RecipientPlayer(server.emulator, {
    failures: { 131026: 0.02, 131049: 0.01 },
    delivered: 0.97,
    read: 0.5,
    replied: 0.05,
    quoted: 0.5,
  })
  server.emulator.recipients = player
  const rpc = serve(
    {
      webhookUrl: (a: { url: string }) => {
        server.emulator.setWebhookUrl(a.url)
        return true
      },
      tally: () => {
        const t = player.tally()
        return {
          messages: t.messages,
          recipients: t.recipients,
          twice: t.twice.length,
          outcomes: player.outcomes,
          repliesWritten: player.repliesWritten,
        }
      },
      stats: () => {
        const s = server.emulator.stats()
        return {
          sendRequests: s.sendRequests,
          accepted: s.accepted,
          rejected: s.rejected,
          perSecond: Object.values(s.requestsPerSecond[PHONE_NUMBER_ID] ?? {}),
          webhooksDelivered: s.webhooksDelivered,
          webhooksPending: s.webhooksPending,
          statusesScheduled: s.statusesScheduled,
        }
      },
    },
    async () => {
      player.stop()
      await server.close()
    },
  )
  rpc.ready({ graphUrl: server.graphUrl, url: server.url })
}

main().catch((err) => {
  process.send?.({ type: 'failed', error: err instanceof Error ? err.stack : String(err) })
  process.exit(1)
})
