// Where an outgoing webhook may go (issue 16). An admin types the URL, and Parley posts to
// it from inside the server's network: without a guard the URL could reach the server's own
// ports, the private network, or a cloud's metadata address (169.254.169.254). So, unless
// WEBHOOK_ALLOW_PRIVATE=true:
// - at creation, a URL whose host is such an address written out (or `localhost`) is refused;
// - at every delivery, the address a host name resolves to is checked before connecting
//   (the connection uses exactly that address), so a name that resolves to a private
//   address, even one changed after creation (DNS rebinding), is refused too.
// Redirects are never followed (a 3xx is a failed attempt), so they cannot lead around it.
import { BlockList, isIP } from 'node:net'
import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import type { LookupFunction } from 'node:net'
import { Errors } from '../../errors.ts'

const blocked = new BlockList()
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this" network
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  blocked.addSubnet(net, prefix, 'ipv4')
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6')
}

/** Whether an IP address (v4, v6, or v4-mapped v6) is loopback, private, link-local or otherwise not public. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address)
  if (family === 4) return blocked.check(address, 'ipv4')
  if (family !== 6) return false
  // ::ffff:10.0.0.1 and ::ffff:a00:1 are IPv4 addresses.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped) return blocked.check(mapped[1]!, 'ipv4')
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address)
  if (hex) {
    const n = (Number.parseInt(hex[1]!, 16) << 16) | Number.parseInt(hex[2]!, 16)
    return blocked.check([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.'), 'ipv4')
  }
  return blocked.check(address, 'ipv6')
}

const MAX_URL = 2048

/** The URL as it will be stored: http(s), a host, no user or password in it; private hosts only when allowed. */
export function checkWebhookUrl(raw: string, allowPrivate: boolean): string {
  let u: URL
  try {
    u = new URL(raw.trim())
  } catch {
    throw Errors.webhookUrlInvalid('Type the whole address, starting with https://')
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw Errors.webhookUrlInvalid('The address must start with https:// or http://')
  if (u.username || u.password) {
    throw Errors.webhookUrlInvalid('Leave the user name and password out of the address: check the signature of each request instead')
  }
  if (u.hash) throw Errors.webhookUrlInvalid('The address cannot have a #fragment')
  if (u.href.length > MAX_URL) throw Errors.webhookUrlInvalid(`The address is longer than ${MAX_URL} characters`)
  if (!allowPrivate) {
    const host = u.hostname.replace(/^\[|\]$/g, '').toLowerCase()
    if (host === 'localhost' || host.endsWith('.localhost') || isPrivateAddress(host)) throw Errors.webhookUrlPrivate()
  }
  return u.href
}

/** Thrown (as a lookup error) when a host resolves to an address that is not allowed. */
export const PRIVATE_ADDRESS = 'EPRIVATEADDRESS'

/**
 * A `lookup` for http.request that refuses private addresses: the connection goes to the
 * address checked here, never to one resolved again later.
 */
export const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
    if (err) return callback(err, '', 0)
    const ok = addresses.filter((a) => !isPrivateAddress(a.address))
    if (ok.length === 0 || ok.length < addresses.length) {
      const e = Object.assign(new Error(`${hostname} resolves to a private address`), { code: PRIVATE_ADDRESS })
      return callback(e, '', 0)
    }
    if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, ok)
    return callback(null, ok[0]!.address, ok[0]!.family)
  })
}
