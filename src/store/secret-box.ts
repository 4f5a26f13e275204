// Secrets at rest (issue 16): channel tokens, app secrets, TOTP secrets and outgoing-webhook
// secrets are stored sealed with AES-256-GCM under a key that is not in the database — in
// DATA_DIR/secret-key (0600, generated on first start) or given as PARLEY_SECRET_KEY — so a
// copied database file alone reveals none of them. A sealed value is text:
// `enc:v1:<base64url of iv (12 bytes) | tag (16) | ciphertext>`; each seal has a fresh iv.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'

const PREFIX = 'enc:v1:'

export class SecretBox {
  private readonly key: Buffer

  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error('the secret key must be 32 bytes')
    this.key = key
  }

  /** Parses PARLEY_SECRET_KEY or the key file: 64 hex digits or base64(url) of 32 bytes. */
  static keyFrom(text: string): Buffer | undefined {
    const t = text.trim()
    const key = /^[0-9a-f]{64}$/i.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64')
    return key.length === 32 ? key : undefined
  }

  static isSealed(value: string): boolean {
    return value.startsWith(PREFIX)
  }

  seal(plain: string): string {
    const iv = randomBytes(12)
    const c = createCipheriv('aes-256-gcm', this.key, iv)
    const body = Buffer.concat([c.update(plain, 'utf8'), c.final()])
    return PREFIX + Buffer.concat([iv, c.getAuthTag(), body]).toString('base64url')
  }

  /**
   * The plain value. A value that is not sealed is returned as it is (stored before
   * encryption at rest; the start-up migration seals those). A sealed value that does not
   * open (another key) throws: Parley must not act on a wrong secret.
   */
  open(value: string): string {
    if (!SecretBox.isSealed(value)) return value
    const raw = Buffer.from(value.slice(PREFIX.length), 'base64url')
    if (raw.length < 28) throw new Error('a sealed secret is damaged')
    const d = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12))
    d.setAuthTag(raw.subarray(12, 28))
    return Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8')
  }

  sealOrNull(plain: string | null | undefined): string | null {
    return plain === null || plain === undefined ? null : this.seal(plain)
  }

  openOrNull(value: string | null | undefined): string | null {
    return value === null || value === undefined ? null : this.open(value)
  }
}
