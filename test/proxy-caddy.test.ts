// Parley behind Caddy with deploy/Caddyfile (issue 16): the stream unbuffered, replay through
// the proxy, client addresses from X-Forwarded-For. Needs Debian's caddy (CI installs it).
import t from 'tap'
import { haveBinary, proxyChecks, startCaddy, startCaddyTls } from './helpers/proxy.ts'

if (haveBinary(t, 'caddy', 'caddy')) {
  proxyChecks(t, 'Caddy', startCaddy)
  // The same file over HTTPS, with a certificate from Caddy's internal CA.
  proxyChecks(t, 'Caddy (HTTPS)', startCaddyTls)
}
