// Parley behind Caddy with deploy/Caddyfile (issue 16): the stream unbuffered, replay through
// the proxy, client addresses from X-Forwarded-For. Needs Debian's caddy (CI installs it).
import t from 'tap'
import { haveBinary, proxyChecks, startCaddy } from './helpers/proxy.ts'

if (haveBinary(t, 'caddy', 'caddy')) proxyChecks(t, 'Caddy', startCaddy)
