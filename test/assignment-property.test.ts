// The round robin's promises (issue 13), over thousands of random arrivals, resolutions,
// availability changes and caps, with a seeded PRNG (a failure names its seed and replays):
//  - automatic assignment never takes anyone over the cap;
//  - no conversation is assigned twice (the pool gives each one once);
//  - two agents both continuously available (and never full) get counts within one of
//    each other, whoever else comes and goes, and drains of the newly available.
// It drives the same pure functions the service uses (nextAssignee, drainRoom) through
// a model of the pool; test/assignment.test.ts covers the service over real HTTP.
import t from 'tap'
import { drainRoom, nextAssignee } from '../src/domain/team/assignment.ts'

function mulberry32(seed: number) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

interface Conv {
  id: number
  assignee: number | null
  open: boolean
  assignedTimes: number
}

function simulate(seed: number, steps: number) {
  const rnd = mulberry32(seed)
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1))
  // Agent ids need not be dense: the rotation orders by id.
  const agents = Array.from({ length: int(2, 7) }, (_, i) => (i + 1) * int(1, 3) + i * 10)
  const available = new Set(agents.filter(() => rnd() < 0.7))
  let cap = int(1, 8)
  let last: number | null = null
  const convs: Conv[] = []
  const pool: Conv[] = [] // unassigned open conversations, oldest first
  // pairDiff[a][b]: assignments a got minus b got since both were last continuously available and never full.
  const pairDiff = new Map<string, number>()
  const key = (a: number, b: number) => `${a}:${b}`
  // pairRun: assignments to the pair since its window restarted (the property is not vacuous).
  const pairRun = new Map<string, number>()
  let longestRun = 0
  const resetPairsOf = (x: number) => {
    for (const y of agents)
      if (y !== x) {
        for (const k of [key(x, y), key(y, x)]) {
          pairDiff.set(k, 0)
          pairRun.set(k, 0)
        }
      }
  }
  for (const a of agents) for (const b of agents) if (a !== b) pairDiff.set(key(a, b), 0)
  // Open conversations per agent, kept as they change (a recount per step made runs quadratic).
  const load = new Map<number, number>()
  const loads = () => load
  const openAssigned: Conv[] = []
  const problems: string[] = []
  let counted = 0
  const give = (c: Conv, to: number, how: string) => {
    if (c.assignee !== null) problems.push(`step: conversation ${c.id} assigned twice (${how})`)
    c.assignee = to
    c.assignedTimes++
    openAssigned.push(c)
    const n = (load.get(to) ?? 0) + 1
    load.set(to, n)
    if (n > cap) problems.push(`${how}: ${to} over the cap (${n} > ${cap})`)
  }

  for (let step = 0; step < steps; step++) {
    const r = rnd()
    if (r < 0.45) {
      // A customer opens a conversation.
      const c: Conv = { id: convs.length + 1, assignee: null, open: true, assignedTimes: 0 }
      convs.push(c)
      const ids = agents.filter((a) => available.has(a)).sort((x, y) => x - y)
      const l = loads()
      // Anyone available and full at an arrival may be passed over: their pairs restart.
      for (const a of ids) if ((l.get(a) ?? 0) >= cap) resetPairsOf(a)
      const next = nextAssignee(ids, l, last, cap)
      if (next === undefined) pool.push(c)
      else {
        give(c, next, 'arrival')
        last = next
        for (const [k, v] of pairDiff) {
          const [a, b] = k.split(':').map(Number)
          if (a === next) pairDiff.set(k, v + 1)
          else if (b === next) pairDiff.set(k, v - 1)
          else continue
          const run = (pairRun.get(k) ?? 0) + 1
          pairRun.set(k, run)
          if (available.has(a!) && available.has(b!)) longestRun = Math.max(longestRun, run)
        }
        counted++
      }
    } else if (r < 0.85) {
      // Someone resolves one of theirs.
      if (openAssigned.length) {
        const i = int(0, openAssigned.length - 1)
        const c = openAssigned[i]!
        openAssigned[i] = openAssigned[openAssigned.length - 1]!
        openAssigned.pop()
        c.open = false
        load.set(c.assignee!, load.get(c.assignee!)! - 1)
      }
    } else if (r < 0.95) {
      // Someone changes availability; becoming available drains the pool, oldest first.
      const a = agents[int(0, agents.length - 1)]!
      resetPairsOf(a)
      if (available.has(a)) available.delete(a)
      else {
        available.add(a)
        const room = drainRoom(loads().get(a) ?? 0, cap)
        for (const c of pool.splice(0, room)) give(c, a, 'drain')
      }
    } else {
      // An admin changes the cap.
      cap = int(1, 8)
    }
    for (const [k, v] of pairDiff) {
      const [a, b] = k.split(':').map(Number)
      if (available.has(a!) && available.has(b!) && Math.abs(v) > 1) problems.push(`step ${step}: ${a} and ${b} differ by ${v}`)
    }
    if (problems.length) break
  }
  const twice = convs.filter((c) => c.assignedTimes > 1).length
  return { problems, twice, counted, longestRun, total: convs.length, pooled: pool.length }
}

t.test('nextAssignee: round robin in id order from the last one, skipping the full, wrapping', async (t) => {
  const loads = new Map([[5, 2]])
  t.equal(nextAssignee([], loads, null, 3), undefined, 'nobody available')
  t.equal(nextAssignee([3, 5, 9], loads, null, 3), 3, 'first turn: the lowest id')
  t.equal(nextAssignee([3, 5, 9], loads, 3, 3), 5)
  t.equal(nextAssignee([3, 5, 9], loads, 5, 3), 9)
  t.equal(nextAssignee([3, 5, 9], loads, 9, 3), 3, 'wraps')
  t.equal(nextAssignee([3, 5, 9], loads, 4, 3), 5, 'continues after a member who left')
  t.equal(nextAssignee([3, 5, 9], loads, 3, 2), 9, 'skips one at the cap')
  t.equal(nextAssignee([5], loads, null, 2), undefined, 'everyone full')
  t.equal(drainRoom(3, 10), 7)
  t.equal(drainRoom(12, 10), 0, 'over the cap (it was lowered): takes nothing')
})

t.test('random arrivals, resolutions, availability changes and caps keep every promise', async (t) => {
  const base = Number(process.env.ASSIGN_SEED ?? 20261206)
  let counted = 0
  let total = 0
  let longestRun = 0
  for (let i = 0; i < 200; i++) {
    const seed = base + i
    const r = simulate(seed, 2000)
    if (r.problems.length || r.twice) {
      t.fail(`seed ${seed}: ${r.problems.slice(0, 3).join('; ')} (assigned twice: ${r.twice})`)
      return
    }
    counted += r.counted
    total += r.total
    longestRun = Math.max(longestRun, r.longestRun)
  }
  t.pass(`200 runs × 2000 steps: ${total} conversations, ${counted} assigned by round robin; no one over the cap, none twice, fair`)
  t.ok(counted > total / 2, `not vacuous: most arrivals met someone with room (${counted} of ${total})`)
  t.ok(longestRun > 20, `not vacuous: pairs stayed comparable for up to ${longestRun} assignments`)
})
