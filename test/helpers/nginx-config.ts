// The nginx sites shipped in deploy/nginx/, run on loopback for tests and the bench: the HTTPS
// server block as shipped on a plain-HTTP loopback port, proxying to Parley's test port (one
// process, parley.conf) or with the upstream's servers replaced by the test's processes
// (several, parley-several.conf), inside a minimal nginx.conf whose pid, logs and temp files
// are in a temp dir (run as `nginx -p <dir> -c <conf>`, daemon off). Everything else — the
// stream settings, timeouts, the upstream's options — is the operator's file, unchanged.
import { chmodSync, mkdirSync, readFileSync } from 'node:fs'
import path from 'node:path'

export interface LocalNginx {
  /** Where nginx keeps its pid, logs and temp files. */
  dir: string
  /** The loopback port nginx listens on. */
  port: number
  /** One Parley: the shipped `proxy_pass http://127.0.0.1:3000;` goes here. */
  upstreamPort?: number
  /** Several: the shipped `upstream parley` block's servers become these, with its options. */
  upstreamPorts?: number[]
  workerConnections?: number
  /** The `http` block's access_log lines (default: one access.log). */
  accessLog?: string[]
  errorLevel?: 'warn' | 'info'
}

/** The config, derived from `shippedFile`; throws when the file no longer has what is replaced. */
export function localNginxConfig(shippedFile: string, o: LocalNginx): string {
  const shipped = readFileSync(shippedFile, 'utf8')
  const must = (text: string, from: RegExp | string, to: string) => {
    const next = text.replace(from, to)
    if (next === text) throw new Error(`${shippedFile} no longer contains ${String(from)}: update test/helpers/nginx-config.ts`)
    return next
  }
  let upstream = ''
  if (o.upstreamPorts) {
    const at = shipped.search(/upstream parley \{/)
    const end = shipped.indexOf('\n}\n', at)
    if (at < 0 || end < 0) throw new Error(`${shippedFile}: no upstream parley block`)
    upstream = shipped.slice(at, end + 3)
    const servers = upstream.match(/^\s*server 127\.0\.0\.1:\d+([^;]*);$/gm) ?? []
    if (servers.length < 2) throw new Error(`${shippedFile}: the upstream lists fewer than two processes`)
    const options = /server 127\.0\.0\.1:\d+([^;]*);/.exec(servers[0]!)![1]
    // Found above: a plain replace (the test's ports may be the shipped ones).
    upstream = upstream.replace(
      /(\n\s*server 127\.0\.0\.1:\d+[^;]*;)+/,
      o.upstreamPorts.map((p) => `\n    server 127.0.0.1:${p}${options};`).join(''),
    )
  }
  const start = shipped.search(/server \{\s*listen 443 /)
  if (start < 0) throw new Error(`${shippedFile}: no server block listening on 443`)
  let site = shipped.slice(start)
  site = must(site, /listen 443 ssl http2;/, `listen 127.0.0.1:${o.port};`)
  site = must(site, /\n\s*listen \[::\]:443 ssl http2;/, '')
  site = must(site, /(\n\s*ssl_[a-z_]+ [^;]+;)+/, '')
  if (o.upstreamPort !== undefined) site = must(site, 'proxy_pass http://127.0.0.1:3000;', `proxy_pass http://127.0.0.1:${o.upstreamPort};`)
  const temp = (name: string) => {
    const p = path.join(o.dir, name)
    mkdirSync(p, { recursive: true })
    chmodSync(p, 0o777) // nginx's workers may run as nobody
    return p
  }
  return [
    'daemon off;',
    'worker_processes 1;',
    `pid ${o.dir}/nginx.pid;`,
    `error_log ${o.dir}/error.log ${o.errorLevel ?? 'info'};`,
    `events { worker_connections ${o.workerConnections ?? 256}; }`,
    'http {',
    ...(o.accessLog ?? [`  access_log ${o.dir}/access.log;`]),
    `  client_body_temp_path ${temp('client_body')};`,
    `  proxy_temp_path ${temp('proxy')};`,
    `  fastcgi_temp_path ${temp('fastcgi')};`,
    `  uwsgi_temp_path ${temp('uwsgi')};`,
    `  scgi_temp_path ${temp('scgi')};`,
    ...(upstream ? [upstream] : []),
    site,
    '}',
    '',
  ].join('\n')
}
