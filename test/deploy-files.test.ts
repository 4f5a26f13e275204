// The files in deploy/ as the tools that read them see them (issue 16): nginx -t on the
// whole site (certificates from openssl), Caddy's own adapter on the Caddyfile, systemd's
// verifier on the unit, the site for several processes (issue 17), and the Dockerfile and
// compose file against the unit's start.
// (The proxies themselves, running, are test/proxy-nginx.test.ts and proxy-caddy.test.ts.)
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { NGINX_SEVERAL_CONF } from './helpers/pg-cluster.ts'
import { binaryPath, CADDYFILE, haveBinary, NGINX_CONF } from './helpers/proxy.ts'

const ROOT = path.resolve(import.meta.dirname, '..')
const read = (rel: string) => readFileSync(path.join(ROOT, rel), 'utf8')
const UNIT = read('deploy/parley.service')
/** The environment without PARLEY_DOMAIN and PARLEY_UPSTREAM: the Caddyfile's own defaults apply. */
function withoutPlaceholders(): NodeJS.ProcessEnv {
  const env = { ...process.env }
  delete env.PARLEY_DOMAIN
  delete env.PARLEY_UPSTREAM
  return env
}
const unitValues = (key: string) => [...UNIT.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]!)

t.test('the nginx site, TLS and redirect included, passes nginx -t', async (t) => {
  if (!haveBinary(t, 'nginx', 'nginx-light')) return
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-nginx-t-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const key = path.join(dir, 'privkey.pem')
  const cert = path.join(dir, 'fullchain.pem')
  const ssl = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=inbox.example.com', '-keyout', key, '-out', cert],
    {
      encoding: 'utf8',
    },
  )
  t.equal(ssl.status, 0, `openssl made a certificate ${ssl.stderr}`)
  const site = readFileSync(NGINX_CONF, 'utf8')
    .replaceAll('/etc/letsencrypt/live/inbox.example.com/', `${dir}/`)
    .replace(/listen 80;/, 'listen 127.0.0.1:80;')
  for (const name of ['client_body', 'proxy']) mkdirSync(path.join(dir, name))
  const conf = path.join(dir, 'nginx.conf')
  writeFileSync(
    conf,
    `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {}\nhttp {\n  access_log off;\n  client_body_temp_path ${dir}/client_body;\n  proxy_temp_path ${dir}/proxy;\n${site}\n}\n`,
  )
  const check = spawnSync(binaryPath('nginx')!, ['-t', '-p', `${dir}/`, '-c', conf, '-e', `${dir}/error.log`], { encoding: 'utf8' })
  t.equal(check.status, 0, check.stderr)
  t.match(check.stderr, /syntax is ok/)
  for (const directive of [
    'proxy_pass http://127.0.0.1:3000;',
    'proxy_http_version 1.1;',
    "proxy_set_header Connection '';",
    'proxy_buffering off;',
    'proxy_cache off;',
    'proxy_set_header X-Forwarded-For $remote_addr;',
    'proxy_set_header X-Forwarded-Proto $scheme;',
    'proxy_set_header X-Forwarded-Host $host;',
    'return 301 https://$host$request_uri;',
  ])
    t.ok(site.includes(directive), directive)
  const readTimeout = /proxy_read_timeout (\d+)([smh]);/.exec(site)
  const seconds = readTimeout ? Number(readTimeout[1]) * { s: 1, m: 60, h: 3600 }[readTimeout[2] as 's' | 'm' | 'h'] : 0
  t.ok(seconds >= 3 * 20, `proxy_read_timeout (${seconds} s) well above the 20-second heartbeat`)
  t.match(site, /client_max_body_size \d+m;/)
})

t.test(
  'the nginx site for several processes: an upstream without stickiness, the stream unbuffered, webhooks retried elsewhere; nginx -t',
  async (t) => {
    const site = readFileSync(NGINX_SEVERAL_CONF, 'utf8')
    const upstream = /upstream parley \{([^}]*)\}/.exec(site)?.[1] ?? ''
    t.ok((upstream.match(/^\s*server 127\.0\.0\.1:\d+/gm) ?? []).length >= 2, 'an upstream of several processes')
    t.notMatch(upstream, /\b(ip_hash|hash|sticky)\b/, 'no sticky sessions: any process serves any stream')
    t.match(upstream, /^\s*keepalive \d+;/m)
    const proxied = [...site.matchAll(/proxy_pass ([^;]+);/g)].map((m) => m[1])
    t.ok(proxied.length >= 2 && proxied.every((p) => p === 'http://parley'), 'every location goes to the upstream')
    for (const directive of [
      'proxy_http_version 1.1;',
      "proxy_set_header Connection '';",
      'proxy_buffering off;',
      'proxy_cache off;',
      'proxy_set_header X-Forwarded-For $remote_addr;',
      'proxy_set_header X-Forwarded-Proto $scheme;',
      'proxy_set_header X-Forwarded-Host $host;',
      'return 301 https://$host$request_uri;',
      'location /webhooks/ {',
      'proxy_next_upstream error timeout non_idempotent;',
    ])
      t.ok(site.includes(directive), directive)
    const readTimeout = /proxy_read_timeout (\d+)([smh]);\s*proxy_send_timeout/.exec(site)
    const seconds = readTimeout ? Number(readTimeout[1]) * { s: 1, m: 60, h: 3600 }[readTimeout[2] as 's' | 'm' | 'h'] : 0
    t.ok(seconds >= 3 * 20, `the stream's proxy_read_timeout (${seconds} s) well above the 20-second heartbeat`)
    if (!haveBinary(t, 'nginx', 'nginx-light')) return
    const dir = mkdtempSync(path.join(tmpdir(), 'parley-nginx-several-t-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const ssl = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=inbox.example.com',
        '-keyout',
        path.join(dir, 'privkey.pem'),
        '-out',
        path.join(dir, 'fullchain.pem'),
      ],
      { encoding: 'utf8' },
    )
    t.equal(ssl.status, 0, `openssl made a certificate ${ssl.stderr}`)
    for (const name of ['client_body', 'proxy']) mkdirSync(path.join(dir, name))
    const conf = path.join(dir, 'nginx.conf')
    writeFileSync(
      conf,
      `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {}\nhttp {\n  access_log off;\n  client_body_temp_path ${dir}/client_body;\n  proxy_temp_path ${dir}/proxy;\n${site
        .replaceAll('/etc/letsencrypt/live/inbox.example.com/', `${dir}/`)
        .replace(/listen 80;/, 'listen 127.0.0.1:80;')}\n}\n`,
    )
    const check = spawnSync(binaryPath('nginx')!, ['-t', '-p', `${dir}/`, '-c', conf, '-e', `${dir}/error.log`], { encoding: 'utf8' })
    t.equal(check.status, 0, check.stderr)
    t.match(check.stderr, /syntax is ok/)
  },
)

t.test('the Caddyfile adapts: HTTPS for the domain, the stream flushed at once, Parley on loopback', async (t) => {
  if (!haveBinary(t, 'caddy', 'caddy')) return
  const adapt = spawnSync(binaryPath('caddy')!, ['adapt', '--config', CADDYFILE, '--adapter', 'caddyfile'], {
    encoding: 'utf8',
    env: withoutPlaceholders(),
  })
  t.equal(adapt.status, 0, adapt.stderr)
  t.notMatch(adapt.stderr, /"level":"warn"/, 'no warning from the adapter')
  const json = JSON.parse(adapt.stdout)
  const server = Object.values(json.apps.http.servers)[0] as { listen: string[]; routes: unknown[] }
  t.same(server.listen, [':443'], 'HTTPS (Caddy redirects port 80 itself)')
  const text = JSON.stringify(server.routes)
  t.match(text, /"host":\["inbox\.example\.com"\]/)
  t.match(text, /"flush_interval":-1/)
  t.match(text, /"dial":"127\.0\.0\.1:3000"/)
  t.notMatch(text, /"handler":"encode"/, 'no compression in front of the stream')
})

t.test('the systemd unit: a dedicated user, its state directory, sandboxed, restarted on failure', async (t) => {
  t.same(unitValues('User'), ['parley'])
  t.same(unitValues('StateDirectory'), ['parley'])
  t.ok(unitValues('Environment').includes('DATA_DIR=/var/lib/parley'))
  for (const setting of ['TRUST_PROXY=true', 'COOKIE_SECURE=true', 'HOST=127.0.0.1'])
    t.ok(unitValues('Environment').includes(setting), setting)
  t.same(unitValues('EnvironmentFile'), ['/etc/parley.env'])
  t.same(unitValues('ProtectSystem'), ['strict'])
  t.same(unitValues('ProtectHome'), ['true'])
  t.same(unitValues('NoNewPrivileges'), ['true'])
  t.same(unitValues('PrivateTmp'), ['true'])
  t.same(unitValues('RestrictAddressFamilies'), ['AF_INET AF_INET6 AF_UNIX'])
  t.same(unitValues('Restart'), ['on-failure'])
  t.same(unitValues('ExecStart'), ['/usr/bin/node --import tsx src/main.ts'])
  t.same(unitValues('ExecStartPre'), ['/usr/bin/node --import tsx src/web-build.ts --check'])
  const analyze = binaryPath('systemd-analyze')
  if (analyze) {
    const verify = spawnSync(analyze, ['verify', path.join(ROOT, 'deploy/parley.service')], { encoding: 'utf8' })
    t.equal(
      `${verify.stdout}${verify.stderr}`.replace(
        /^.*(Failed to|not found|No such file).*(\/opt\/parley|\/etc\/parley\.env|node).*\n?/gm,
        '',
      ),
      '',
      'systemd knows every line',
    )
  } else t.comment('systemd-analyze is not installed: the unit is checked by its lines only')
})

t.test('the Dockerfile runs what the unit runs: production dependencies, a prebuilt client, non-root, /data, a health check', async (t) => {
  const file = read('deploy/Dockerfile')
  t.ok((file.match(/^FROM /gm) ?? []).length >= 2, 'multi-stage')
  t.match(file, /^RUN npm ci$/m, 'the build stage has the dev dependencies')
  t.match(file, /^RUN npm run build$/m, 'and builds the web client')
  t.match(file, /^RUN npm ci --omit=dev$/m, 'what runs has production dependencies only')
  t.match(file, /^COPY --from=web \/app\/web\/dist \.\/web\/dist$/m)
  t.match(file, /^USER node$/m, 'non-root')
  t.match(file, /^VOLUME \/data$/m)
  t.match(file, /DATA_DIR=\/data/)
  t.match(file, /^HEALTHCHECK [\s\S]*http:\/\/127\.0\.0\.1:3000\/api\/health/m)
  const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(file)![1]!) as string[]
  t.equal(`/usr/bin/${cmd.join(' ')}`, unitValues('ExecStart')[0], 'the same start as the systemd unit')
  for (const m of file.matchAll(/^COPY (?!--from)(\S+(?: \S+)*) \S+$/gm))
    for (const source of m[1]!.split(' '))
      if (source !== '.') t.ok(existsSync(path.join(ROOT, source)), `${source} exists in the build context`)
  const ignored = read('.dockerignore').split('\n')
  for (const entry of ['node_modules', 'web/dist', 'data', '.env', '.git'])
    t.ok(ignored.includes(entry), `.dockerignore leaves out ${entry}`)
})

t.test('compose puts Caddy with the same Caddyfile in front of the image, Parley unpublished', async (t) => {
  const file = read('deploy/compose.yaml')
  t.match(file, /dockerfile: deploy\/Dockerfile/)
  t.match(file, /context: \.\./)
  t.match(file, /\.\/Caddyfile:\/etc\/caddy\/Caddyfile:ro/)
  t.match(file, /PARLEY_UPSTREAM: parley:3000/)
  t.match(file, /TRUST_PROXY: "true"/)
  t.match(file, /COOKIE_SECURE: "true"/)
  t.match(file, /parley-data:\/data/)
  const parley = file.slice(file.indexOf('  parley:'), file.indexOf('  caddy:'))
  t.notMatch(parley, /ports:/, 'only Caddy publishes ports')
})
