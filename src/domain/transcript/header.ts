// What a transcript says about itself, above the messages (both formats).
import type { TranscriptEntry } from './entries.ts'

export interface TranscriptHeader {
  conversationId: number
  /** The customer's name (or number when unnamed). */
  contact: string
  /** "+15550007001" on WhatsApp, "PSID 2417…" on Messenger. */
  address: string
  /** "WhatsApp · Support line". */
  channel: string
  exportedAt: number
  exportedBy: string
  /** The workspace's IANA timezone: every time in the transcript is in it. */
  timeZone: string
  notes: boolean
}

/** A renderer: the header, then each entry in id order, then the end. Holds the day it is on. */
export interface TranscriptRenderer {
  readonly contentType: string
  readonly extension: 'html' | 'txt'
  head(h: TranscriptHeader): string
  entry(e: TranscriptEntry): string
  foot(count: number): string
}
