// The socket.io peer's session token: HMAC-SHA256 over a small JSON claim, what a
// hand-rolled JWT check costs per connection.
import { createHmac, timingSafeEqual } from 'node:crypto'

export const PEER_SECRET = 'bench-peer-secret'

export function peerToken(userId: number, companyId: number): string {
  const claim = Buffer.from(JSON.stringify({ userId, companyId, exp: Date.now() + 12 * 3600_000 })).toString('base64url')
  return `${claim}.${createHmac('sha256', PEER_SECRET).update(claim).digest('base64url')}`
}

export function verifyPeerToken(token: unknown): { userId: number; companyId: number } | undefined {
  if (typeof token !== 'string') return undefined
  const [claim, sig] = token.split('.')
  if (!claim || !sig) return undefined
  const want = createHmac('sha256', PEER_SECRET).update(claim).digest()
  const got = Buffer.from(sig, 'base64url')
  if (got.length !== want.length || !timingSafeEqual(got, want)) return undefined
  const c = JSON.parse(Buffer.from(claim, 'base64url').toString()) as { userId: number; companyId: number; exp: number }
  return c.exp > Date.now() ? c : undefined
}
