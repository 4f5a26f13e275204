// Browser notifications (after the agent grants permission), a short sound that can be
// muted, remembered per browser. The notification shows the contact's name and the
// preview as plain text (the Notification API does not render HTML).
import { signal } from '@preact/signals'

const MUTE_KEY = 'parley.muted'

const storage = (): Storage | null => {
  try {
    return localStorage
  } catch {
    return null
  }
}

export const muted = signal(storage()?.getItem(MUTE_KEY) === '1')
export const permission = signal<NotificationPermission | 'unsupported'>(
  typeof Notification === 'undefined' ? 'unsupported' : Notification.permission,
)

export function toggleMute() {
  muted.value = !muted.value
  storage()?.setItem(MUTE_KEY, muted.value ? '1' : '0')
  if (!muted.value) unlockAudio()
}

export async function askPermission() {
  if (typeof Notification === 'undefined') return
  permission.value = await Notification.requestPermission()
}

let audio: AudioContext | null = null
/** Browsers only let a page play sound after a user gesture: call from one. */
export function unlockAudio() {
  if (audio || typeof AudioContext === 'undefined') return
  try {
    audio = new AudioContext()
  } catch {
    audio = null
  }
}

/** Two short tones, generated: no sound file to load or to allow in the CSP. */
export function chime() {
  if (muted.value || !audio) return
  const t = audio.currentTime
  for (const [freq, at] of [
    [880, 0],
    [1320, 0.12],
  ] as const) {
    const osc = audio.createOscillator()
    const gain = audio.createGain()
    osc.frequency.value = freq
    gain.gain.setValueAtTime(0.0001, t + at)
    gain.gain.exponentialRampToValueAtTime(0.15, t + at + 0.02)
    gain.gain.exponentialRampToValueAtTime(0.0001, t + at + 0.18)
    osc.connect(gain).connect(audio.destination)
    osc.start(t + at)
    osc.stop(t + at + 0.2)
  }
}

export function showNotification(title: string, body: string, tag: string, onClick: () => void) {
  if (permission.value !== 'granted') return
  try {
    // The tag makes tabs that notify about the same message show it once.
    const n = new Notification(title, { body, tag })
    n.onclick = () => {
      focus()
      onClick()
      n.close()
    }
  } catch {
    /* some mobile browsers only allow notifications from a service worker */
  }
}
