// Parley behind nginx with deploy/nginx/parley.conf (issue 16): the stream unbuffered, replay
// through the proxy, client addresses from X-Forwarded-For. Needs Debian's nginx (CI installs it).
import t from 'tap'
import { haveBinary, proxyChecks, startNginx } from './helpers/proxy.ts'

if (haveBinary(t, 'nginx', 'nginx-light')) proxyChecks(t, 'nginx', startNginx)
