// Start-up state: the default workspace, the first admin from ADMIN_EMAIL/ADMIN_PASSWORD,
// and the WhatsApp number from the environment as the workspace's first channel.
import type { Config } from '../../config.ts'
import type { ChannelsRepo } from '../../store/channels.ts'
import type { UnitRunner } from '../../store/runner.ts'
import type { AuthService } from './auth.ts'
import { startLock } from '../../store/meta.ts'

/** `channels`: the app's repository (it seals the access token with the app's secret box). */
export async function bootstrap(
  config: Config,
  io: { units: UnitRunner; channels: ChannelsRepo },
  auth: AuthService,
): Promise<{ workspaceId: number }> {
  // The password is hashed before the transaction (slow, and not a database step), and only
  // when there may be no user yet; the transaction checks again under the lock.
  const admin =
    config.adminEmail && config.adminPassword && (await auth.userCount()) === 0
      ? { email: config.adminEmail, passwordHash: await auth.hashPassword(config.adminPassword) }
      : undefined
  const wa = config.whatsapp
  const channel = wa.phoneNumberId
    ? {
        values: {
          kind: 'whatsapp' as const,
          externalId: wa.phoneNumberId,
          name: 'WhatsApp',
          businessAccountId: wa.businessAccountId ?? null,
          accessToken: wa.accessToken ?? null,
          enabled: true,
        },
        // The environment wins for what it sets; what it leaves unset (a token saved in
        // Settings, say) is kept rather than wiped at every start.
        set: {
          ...(wa.businessAccountId !== undefined ? { businessAccountId: wa.businessAccountId } : {}),
          ...(wa.accessToken !== undefined ? { accessToken: wa.accessToken } : {}),
        },
      }
    : undefined
  // One transaction, taken in turns by processes starting together on PostgreSQL (issue 17):
  // two of them once both saw no admin and the second's insert failed its start.
  const workspaceId = await io.units.transact(function* () {
    yield* startLock()
    const workspaceId = yield* auth.defaultWorkspaceUnit()
    if (admin && (yield* auth.userCountUnit()) === 0) {
      yield* auth.insertUserUnit({ workspaceId, email: admin.email, name: 'Admin', passwordHash: admin.passwordHash, role: 'admin' })
    }
    if (channel) yield* io.channels.ensure({ ...channel.values, workspaceId }, channel.set)
    return workspaceId
  })
  return { workspaceId }
}
