// Labels (issue 14): admins define them (name, colour); anyone who can see a conversation
// sets them on it; the inbox filters by them. Every change to the workspace's labels emits
// `labels.changed` with the whole list (a workspace audience: everyone, whatever their
// channels — a label's name is no conversation's secret).
//
// A rename, recolour or delete does NOT emit `conversation.updated` for each conversation
// carrying the label: a label on thousands of conversations would flood every stream (and
// the event log) for one click. Clients hold a conversation's labels by id and draw their
// name and colour from the latest `labels.changed` list (a label missing from it is gone),
// so one small event updates every chip; any later read of a conversation already has the
// new names. Setting a conversation's labels is the writer's (writer.ts setLabels), with
// its own `conversation.updated`, and never marks anything unread or moves it in the list.
import type { Emitter } from '../../events/event-log.ts'
import type { ConversationDTO, LabelRef } from '../../events/types.ts'
import { Errors } from '../../errors.ts'
import type { LabelsRepo } from '../../store/labels.ts'
import type { Q } from '../../store/unit.ts'
import type { InboxWriter } from '../inbox/writer.ts'

export const LABEL_NAME_MAX = 40
// A filter bar and a picker stay usable with this many; more is a sign of tags used as notes.
export const MAX_LABELS_PER_WORKSPACE = 200
// At most this many labels on one conversation (the PUT's body schema).
export const MAX_LABELS_PER_CONVERSATION = 50

const COLOR = /^#[0-9a-f]{6}$/i
// Control characters (a newline, a tab, a bidi override's neighbours) have no place in a chip.
const CONTROL = /\p{Cc}/u

/** The name as stored: NFC, trimmed, inner runs of spaces made one. Throws LABEL_NAME_INVALID. */
export function labelName(raw: string): string {
  const name = raw.normalize('NFC').trim().replace(/\s+/g, ' ')
  if (CONTROL.test(raw.trim())) throw Errors.labelNameInvalid('A label name cannot contain control characters such as line breaks')
  if (name.length === 0) throw Errors.labelNameInvalid('Give the label a name')
  if ([...name].length > LABEL_NAME_MAX) throw Errors.labelNameInvalid(`A label name has at most ${LABEL_NAME_MAX} characters`)
  return name
}

/** `#rrggbb`, lower case. Throws LABEL_COLOR_INVALID. */
export function labelColor(raw: string): string {
  const color = raw.trim()
  if (!COLOR.test(color)) throw Errors.labelColorInvalid()
  return color.toLowerCase()
}

const sameName = (a: string, b: string) => a.toLowerCase() === b.toLowerCase()

export interface LabelsDeps {
  repo: LabelsRepo
  now: () => number
  /** Setting a conversation's labels is the inbox writer's (InboxWriter.setLabels, a unit). */
  writer?: InboxWriter
}

export class Labels {
  constructor(private readonly deps: LabelsDeps) {}

  private writer(): InboxWriter {
    if (!this.deps.writer) throw new Error("Labels: the inbox writer is needed to set a conversation's labels")
    return this.deps.writer
  }

  /** The workspace's labels, by name. */
  listUnit(workspaceId: number): Q<LabelRef[]> {
    return this.deps.repo.list(workspaceId)
  }

  *createUnit(batch: Emitter, workspaceId: number, input: { name: string; color: string }): Q<LabelRef> {
    const name = labelName(input.name)
    const color = labelColor(input.color)
    const { repo } = this.deps
    if ((yield* repo.count(workspaceId)) >= MAX_LABELS_PER_WORKSPACE) throw Errors.labelLimit(MAX_LABELS_PER_WORKSPACE)
    yield* this.refuseTaken(workspaceId, name)
    const label = yield* repo.insert(workspaceId, name, color, this.deps.now())
    yield* this.changed(batch, workspaceId)
    return label
  }

  /** Renames and/or recolours; 404 for another workspace's or an unknown label. Unchanged: no event. */
  *updateUnit(batch: Emitter, workspaceId: number, id: number, patch: { name?: string; color?: string }): Q<LabelRef> {
    const name = patch.name === undefined ? undefined : labelName(patch.name)
    const color = patch.color === undefined ? undefined : labelColor(patch.color)
    const { repo } = this.deps
    const current = yield* repo.byId(workspaceId, id)
    if (!current) throw Errors.notFound('Label')
    const next = { name: name ?? current.name, color: color ?? current.color }
    if (next.name === current.name && next.color === current.color) return current
    // Changing only the case of its own name is a rename, not a clash.
    if (!sameName(next.name, current.name)) yield* this.refuseTaken(workspaceId, next.name)
    const updated = yield* repo.update(workspaceId, id, next)
    if (!updated) throw Errors.notFound('Label')
    yield* this.changed(batch, workspaceId)
    return updated
  }

  /** Deletes the label and takes it off every conversation; 404 for another workspace's. */
  *removeUnit(batch: Emitter, workspaceId: number, id: number): Q<void> {
    if (!(yield* this.deps.repo.delete(workspaceId, id))) throw Errors.notFound('Label')
    yield* this.changed(batch, workspaceId)
  }

  /**
   * Throws UNKNOWN_LABEL unless every id is this workspace's label (another workspace's
   * label reads exactly like one that does not exist).
   */
  *checkIds(workspaceId: number, labelIds: readonly number[]): Q<void> {
    for (const id of labelIds) if (!(yield* this.deps.repo.byId(workspaceId, id))) throw Errors.unknownLabel()
  }

  /**
   * The conversation carries exactly these labels (the caller checked it may see it).
   * An id that is not this workspace's label answers UNKNOWN_LABEL. The same set again: no
   * write, no event (undefined).
   */
  *setOnConversationUnit(
    batch: Emitter,
    workspaceId: number,
    conversationId: number,
    labelIds: readonly number[],
  ): Q<ConversationDTO | undefined> {
    const ids = [...new Set(labelIds)]
    yield* this.checkIds(workspaceId, ids)
    return yield* this.writer().setLabels(batch, workspaceId, conversationId, ids, this.deps.now())
  }

  private *refuseTaken(workspaceId: number, name: string): Q<void> {
    // Per workspace there are at most a few hundred: compared here, in full Unicode,
    // where SQLite's NOCASE (and lower() on SQLite) folds only ASCII.
    if ((yield* this.deps.repo.list(workspaceId)).some((l) => sameName(l.name, name))) throw Errors.labelExists()
  }

  /** The workspace's `labels.changed`, with the whole list, in the change's transaction. */
  private *changed(batch: Emitter, workspaceId: number): Q<void> {
    batch.emit(workspaceId, 'labels.changed', { labels: yield* this.deps.repo.list(workspaceId) })
  }
}
