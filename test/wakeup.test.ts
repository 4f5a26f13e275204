// The one scheduler of the background pumps (issue 12 point 5): the outbox worker and the
// campaign runner rely on soon() keeping the earliest wake-up, on one pass at a time (a
// wake-up during a pass runs it once more after), on the pass's own "look again in", and
// on nothing running after stop(). The media and profile pumps rely on after() replacing.
import t from 'tap'
import { Wakeup } from '../src/domain/wakeup.ts'
import { until } from './helpers/emulator.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

t.test('soon() keeps the earliest wake-up; after() replaces it', async (t) => {
  const runs: number[] = []
  const w = new Wakeup(() => {
    runs.push(Date.now())
  })
  w.start()
  await sleep(20)
  t.equal(runs.length, 1, 'start() runs once')
  w.soon(1000)
  w.soon(10) // earlier: moves it up
  w.soon(500) // later: the 10 ms one stands
  await sleep(150)
  t.equal(runs.length, 2, 'the earliest ran')
  w.after(10)
  w.after(1000) // replaces, later
  await sleep(60)
  t.equal(runs.length, 2, 'after() replaced the sooner wake-up')
  w.stop()
})

t.test('one pass at a time: a wake-up during an async pass runs it once more after', async (t) => {
  // The pass is held open by the test (no timing): it ends when the test releases it.
  let active = 0
  let most = 0
  let passes = 0
  let release: () => void = () => {}
  let started: () => void = () => {}
  const nextStart = () => new Promise<void>((r) => (started = r))
  const w = new Wakeup(async () => {
    active++
    most = Math.max(most, active)
    passes++
    const held = new Promise<void>((r) => (release = r))
    started()
    await held
    active--
    return Infinity
  })
  let start = nextStart()
  w.start()
  await start
  // Three wake-ups while the first pass runs. Each sleep outlasts the wake-up's own 0 ms
  // timer, registered before it, so that timer has fired (into the running pass) by then.
  w.soon(0)
  w.soon(0)
  await sleep(20)
  w.soon(0)
  await sleep(20)
  t.equal(passes, 1, 'no second pass while the first runs')
  start = nextStart()
  release()
  await start
  t.equal(passes, 2, 'the wake-ups during the pass made one more')
  release()
  await sleep(20)
  t.equal(passes, 2, 'and only one')
  t.equal(most, 1, 'never two passes at once')
  w.stop()
})

t.test("the pass's return value schedules the next; stop() ends it all", async (t) => {
  let passes = 0
  const w = new Wakeup(() => {
    passes++
    return passes < 3 ? 5 : Infinity
  })
  w.start()
  await until(async () => passes >= 3, 'three passes')
  // A fourth, if one were asked for, would be due 5 ms after the third: this outlasts it.
  await sleep(30)
  t.equal(passes, 3, 'looked again as asked, then stopped asking')
  w.soon(0)
  w.stop()
  await sleep(20)
  t.equal(passes, 3, 'nothing after stop()')
  t.ok(w.stopped)
})

t.test('the safety tick wakes an idle pump', async (t) => {
  let passes = 0
  const w = new Wakeup(
    () => {
      passes++
    },
    { safetyMs: 15 },
  )
  w.start()
  // Only the tick can wake it after start()'s pass.
  await until(async () => passes >= 3, 'passes from the safety tick')
  t.ok(passes >= 3, `woken by the tick (${passes} passes)`)
  w.stop()
})
