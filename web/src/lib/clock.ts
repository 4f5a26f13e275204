// A coarse clock for labels ("3 min ago", "5 h left", "Today"): one timer for the app.
import { signal } from '@preact/signals'

// Fine enough for minute labels and the window's countdown; cheap on battery.
const TICK_MS = 15_000

export const clock = signal(Date.now())
setInterval(() => (clock.value = Date.now()), TICK_MS)
