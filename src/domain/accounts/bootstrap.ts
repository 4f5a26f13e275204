// Start-up state: the default workspace, the first admin from ADMIN_EMAIL/ADMIN_PASSWORD,
// and the WhatsApp number from the environment as the workspace's first channel.
import type { Config } from '../../config.ts'
import type { ChannelsRepo } from '../../store/channels.ts'
import type { UnitRunner } from '../../store/runner.ts'
import type { AuthService } from './auth.ts'

/** `channels`: the app's repository (it seals the access token with the app's secret box). */
export async function bootstrap(
  config: Config,
  io: { units: UnitRunner; channels: ChannelsRepo },
  auth: AuthService,
): Promise<{ workspaceId: number }> {
  const workspaceId = await auth.defaultWorkspace()
  if (config.adminEmail && config.adminPassword && (await auth.userCount()) === 0) {
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
    await io.units.transact(() => io.channels.ensure(values, set))
  }
  return { workspaceId }
}
