// Fault injection for demos: make the sandbox's Meta misbehave and watch Parley cope
// (retries, unknown sends settled by statuses, ticks that never go backwards).
import type { Simulator } from './state.ts'
import type { Faults as FaultSettings } from './api.ts'

const pct = (v: number) => Math.round(v * 100)

export function Faults({ sim }: { sim: Simulator }) {
  const f = sim.faults.value
  if (!f) return null
  const rate = (key: 'errorRate' | 'duplicateRate' | 'dropRate', label: string, help: string) => (
    <label title={help}>
      {label}
      <input
        type="number"
        min={0}
        max={100}
        step={5}
        value={pct(f[key])}
        onChange={(e) => void sim.setFaults({ [key]: Number((e.currentTarget as HTMLInputElement).value) / 100 } as Partial<FaultSettings>)}
      />
      %
    </label>
  )
  return (
    <details class="faults">
      <summary>Fault injection</summary>
      {rate('errorRate', 'Transient errors', 'Share of sends Meta answers with 131000 (Parley retries them)')}
      {rate(
        'dropRate',
        'Dropped answers',
        'Share of sends accepted, then answered by dropping the connection (Parley marks them unknown until a status arrives)',
      )}
      {rate('duplicateRate', 'Duplicate statuses', 'Share of status webhooks delivered twice')}
      <label title="Added to every send">
        Latency
        <input
          type="number"
          min={0}
          max={60000}
          step={100}
          value={f.latencyMs}
          onChange={(e) => void sim.setFaults({ latencyMs: Number((e.currentTarget as HTMLInputElement).value) })}
        />
        ms
      </label>
      <label>
        <input
          type="checkbox"
          checked={f.outOfOrder}
          onChange={(e) => void sim.setFaults({ outOfOrder: (e.currentTarget as HTMLInputElement).checked })}
        />{' '}
        Statuses out of order
      </label>
      <label title="Webhooks wait in the sandbox's queue, as Meta's would while Parley is down">
        <input
          type="checkbox"
          checked={f.pauseWebhooks}
          onChange={(e) => void sim.setFaults({ pauseWebhooks: (e.currentTarget as HTMLInputElement).checked })}
        />{' '}
        Hold webhooks
      </label>
    </details>
  )
}
