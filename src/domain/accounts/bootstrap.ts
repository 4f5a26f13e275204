// Start-up state: the default workspace, the first admin from ADMIN_EMAIL/ADMIN_PASSWORD,
// and the WhatsApp number from the environment as the workspace's first channel.
import type { Config } from '../../config.ts'
import { ChannelsRepo } from '../../store/channels.ts'
import { sqliteConn } from '../../store/conn.ts'
import { secretBoxOf } from '../../store/sealed-columns.ts'
import { runSync } from '../../store/unit.ts'
import type { Db } from '../../store/db.ts'
import type { AuthService } from './auth.ts'

export async function bootstrap(config: Config, db: Db, auth: AuthService): Promise<{ workspaceId: number }> {
  const workspaceId = auth.defaultWorkspace()
  if (config.adminEmail && config.adminPassword && auth.userCount() === 0) {
    await auth.createUser({
      workspaceId,
      email: config.adminEmail,
      name: 'Admin',
      password: config.adminPassword,
      role: 'admin',
    })
  }
  const wa = config.whatsapp
  if (wa.phoneNumberId) {
    const values = {
      workspaceId,
      kind: 'whatsapp' as const,
      externalId: wa.phoneNumberId,
      name: 'WhatsApp',
      businessAccountId: wa.businessAccountId ?? null,
      accessToken: wa.accessToken ?? null,
      enabled: true,
    }
    // The environment wins for what it sets; what it leaves unset (a token saved in
    // Settings, say) is kept rather than wiped at every start.
    const set = {
      ...(wa.businessAccountId !== undefined ? { businessAccountId: wa.businessAccountId } : {}),
      ...(wa.accessToken !== undefined ? { accessToken: wa.accessToken } : {}),
    }
    runSync(new ChannelsRepo(secretBoxOf(db)).ensure(values, set), sqliteConn(db.$client))
  }
  return { workspaceId }
}
