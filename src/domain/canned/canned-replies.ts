// Canned replies (issue 14): shared ones (admins manage them) and each person's own, with
// a shortcut for the composer's `/` list. Who may do what:
// - everyone sees the shared replies and their own; someone else's own reply does not
//   exist for them (404), whatever their role;
// - anyone creates, changes and deletes their own; only admins create, change or delete
//   shared ones (403 for an agent: they can see those, so 404 would be a lie);
// - a shortcut is unique (case-insensitively) among the shared replies and the person's
//   own, so the `/` list never offers two with one name; a shared one is checked against
//   the shared ones and its admin's own (an agent's own reply that had the name first
//   stays theirs: people's own replies are private, so they cannot block an admin; the
//   agent then sees both, the shared one first, and can rename theirs);
// - an unknown variable is refused when a reply is saved and again when it is rendered
//   (a reply saved before an attribute disappeared from every contact), never sent raw.
import { type Access, canSeeChannel } from '../accounts/access.ts'
import { Errors } from '../../errors.ts'
import type { CannedRepliesRepo, CannedReplyRow } from '../../store/canned-replies.ts'
import type { Q } from '../../store/unit.ts'
import { render, unknownVariableMessage, validate, BUILTIN_VARIABLES, type RenderOptions } from './variables.ts'

export interface CannedReplyDTO {
  id: number
  shortcut: string
  text: string
  /** Shared with the workspace (ownerId null), else its owner's own. */
  shared: boolean
  ownerId: number | null
  updatedAt: number
}

export interface CannedReplyInput {
  shortcut: string
  text: string
  shared?: boolean
}

export interface RenderedReply {
  text: string
  /** Known variables that had no value and no fallback: rendered empty, flagged by the composer. */
  missing: string[]
}

const SHORTCUT = /^[A-Za-z0-9_-]{1,32}$/
// Meta's text limit (W-SEND-TEXT): a reply longer than one message could not be sent.
export const CANNED_TEXT_MAX = 4096
// The help line's attribute list stays readable; a workspace with more keys still uses them all.
const ATTRIBUTE_KEYS_SHOWN = 100

export const toCannedReplyDTO = (r: CannedReplyRow): CannedReplyDTO => ({
  id: r.id,
  shortcut: r.shortcut,
  text: r.text,
  shared: r.ownerId === null,
  ownerId: r.ownerId,
  updatedAt: r.updatedAt,
})

export class CannedReplies {
  constructor(
    private readonly deps: {
      repo: CannedRepliesRepo
      now: () => number
    },
  ) {}

  *list(a: Access): Q<CannedReplyDTO[]> {
    return (yield* this.deps.repo.visibleTo(a.workspaceId, a.userId)).map(toCannedReplyDTO)
  }

  /** The variables a reply may use, with the attributes the workspace's contacts have. */
  *variables(a: Access): Q<{ variables: string[]; attributes: string[] }> {
    return { variables: [...BUILTIN_VARIABLES], attributes: yield* this.deps.repo.attributeKeys(a.workspaceId, ATTRIBUTE_KEYS_SHOWN) }
  }

  /** Run in a transaction: the check and the write are one step (the shortcut stays unique under concurrent requests). */
  *create(a: Access, input: CannedReplyInput): Q<CannedReplyDTO> {
    const shared = input.shared === true
    if (shared && a.role !== 'admin') throw Errors.forbidden()
    const { repo } = this.deps
    yield* repo.lockWorkspace(a.workspaceId)
    const { shortcut, text } = yield* this.check(a, input.shortcut, input.text)
    if (yield* repo.shortcutTaken(a.workspaceId, a.userId, shortcut)) throw Errors.shortcutExists()
    const row = yield* repo.insert({
      workspaceId: a.workspaceId,
      ownerId: shared ? null : a.userId,
      shortcut,
      text,
      createdBy: a.userId,
      now: this.deps.now(),
    })
    return toCannedReplyDTO(row)
  }

  /** Changes the given fields; `shared` moves a reply between the team and its admin's own. In a transaction. */
  *update(a: Access, id: number, patch: Partial<CannedReplyInput>): Q<CannedReplyDTO> {
    const { repo } = this.deps
    yield* repo.lockWorkspace(a.workspaceId)
    const row = yield* this.writable(a, id)
    const shared = patch.shared ?? row.ownerId === null
    if (shared !== (row.ownerId === null) && a.role !== 'admin') throw Errors.forbidden()
    const { shortcut, text } = yield* this.check(a, patch.shortcut ?? row.shortcut, patch.text ?? row.text)
    if (yield* repo.shortcutTaken(a.workspaceId, a.userId, shortcut, row.id)) throw Errors.shortcutExists()
    const updated = yield* repo.update(a.workspaceId, row.id, { ownerId: shared ? null : a.userId, shortcut, text, now: this.deps.now() })
    // Read under the lock, in the same transaction: deleted since cannot happen; kept loud if it ever does.
    if (!updated) throw Errors.notFound('Canned reply')
    return toCannedReplyDTO(updated)
  }

  /** In a transaction. */
  *remove(a: Access, id: number): Q<void> {
    const { repo } = this.deps
    yield* repo.lockWorkspace(a.workspaceId)
    yield* repo.delete(a.workspaceId, (yield* this.writable(a, id)).id)
  }

  /** The reply's text for this conversation's contact, with the caller as the agent. */
  *render(a: Access, id: number, conversationId: number): Q<RenderedReply> {
    const { repo } = this.deps
    const row = yield* this.visible(a, id)
    // The conversation must be in the caller's channels: 404 otherwise, also for another
    // workspace's (the rule of http/scope.ts conversationInScope, on the row read here).
    const of = yield* repo.contactOf(a.workspaceId, conversationId)
    if (!of || !canSeeChannel(a, of.channelId)) throw Errors.notFound('Conversation')
    const input = { contact: of.contact, agent: { name: (yield* repo.userName(a.workspaceId, a.userId)) ?? '' } }
    const rule = yield* this.attributeRule(a, (r) => render(row.text, input, r))
    const out = render(row.text, input, rule)
    if (out.unknown.length > 0) throw Errors.unknownVariable(unknownVariableMessage(out.unknown))
    return { text: out.text, missing: out.missing }
  }

  /**
   * Which `contact.<key>` attributes are known (some contact of the workspace has them).
   * variables.ts asks through a synchronous callback and a unit cannot query from inside
   * one, so `use` runs once with a rule that only notes the keys asked (what it asks does
   * not depend on the answers), each key is queried, and the rule answers from those.
   */
  private *attributeRule(a: Access, use: (rule: RenderOptions) => unknown): Q<RenderOptions> {
    const asked = new Set<string>()
    use({
      knownAttribute: (key) => {
        asked.add(key)
        return true
      },
    })
    const known = new Set<string>()
    for (const key of asked) if (yield* this.deps.repo.attributeInUse(a.workspaceId, key)) known.add(key)
    return { knownAttribute: (key) => known.has(key) }
  }

  private *check(a: Access, rawShortcut: string, rawText: string): Q<{ shortcut: string; text: string }> {
    const shortcut = rawShortcut.trim().replace(/^\//, '')
    if (!SHORTCUT.test(shortcut))
      throw Errors.cannedReplyInvalid(
        'A shortcut is 1–32 letters, digits, hyphens or underscores (no spaces), for example "thanks" or "opening-hours"',
      )
    const text = rawText.trim()
    if (text.length === 0 || text.length > CANNED_TEXT_MAX)
      throw Errors.cannedReplyInvalid(`The text must be 1–${CANNED_TEXT_MAX} characters`)
    const unknown = validate(text, yield* this.attributeRule(a, (r) => validate(text, r)))
    if (unknown.length > 0) throw Errors.unknownVariable(unknownVariableMessage(unknown))
    return { shortcut, text }
  }

  /** A reply the person can see (shared or their own); else 404. */
  private *visible(a: Access, id: number): Q<CannedReplyRow> {
    const row = yield* this.deps.repo.byId(a.workspaceId, id)
    if (!row || (row.ownerId !== null && row.ownerId !== a.userId)) throw Errors.notFound('Canned reply')
    return row
  }

  /** A reply the person may change: their own, or a shared one for an admin. */
  private *writable(a: Access, id: number): Q<CannedReplyRow> {
    const row = yield* this.visible(a, id)
    if (row.ownerId === null && a.role !== 'admin') throw Errors.forbidden()
    return row
  }
}
