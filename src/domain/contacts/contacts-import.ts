// CSV import of contacts (issue 7): the same pass produces the preview (nothing
// written) and the import (one transaction), so what the user approved is what is
// stored. The report names every row that will not be imported and why: an invalid
// number, a duplicate of an earlier row, an empty row.
import type { Emitter } from '../../events/event-log.ts'
import type { Q } from '../../store/unit.ts'
import { AppError, Errors } from '../../errors.ts'
import { CsvError, parseCsv, type Separator } from './csv.ts'
import { normalizeCountryCode, normalizePhone } from './contacts-phone.ts'
import { cleanAttributes, cleanTag, type ContactsService } from './contacts.ts'
import type { ContactPatch, ContactsRepo } from '../../store/contacts.ts'

// A bound on one request's work: 100,000 rows parse and store in a few seconds.
export const MAX_IMPORT_ROWS = 100_000
// The report lists this many rows per kind of problem (the counts are always complete).
const REPORT_LIMIT = 500
const SAMPLE_ROWS = 20

export interface ImportMapping {
  /** Header of the phone column (required; detected when absent). */
  phone?: string
  name?: string
  /** A column of tags separated by `|`, `,` or `;`. */
  tags?: string
  /** Columns kept as attributes; default: every column not mapped above. */
  attributes?: string[]
}

export interface ImportInput {
  csv: string
  separator?: Separator
  mapping?: ImportMapping
  /** For numbers written nationally (leading 0), e.g. "49". */
  defaultCountryCode?: string
  /** Added to every imported contact. */
  tags?: string[]
  /** The list the import creates (default: "Import <date>"). */
  listName?: string
}

export interface ImportRow {
  line: number
  phone: string
  name: string | null
  tags: string[]
  attributes: Record<string, string>
  existing: boolean
}

export interface ImportReport {
  separator: Separator
  columns: string[]
  mapping: { phone: string; name: string | null; tags: string | null; attributes: string[] }
  /** Data rows in the file (the header not counted). */
  rows: number
  /** Rows that will be (or were) imported. */
  valid: number
  newContacts: number
  existingContacts: number
  invalidCount: number
  invalid: { line: number; value: string; reason: string }[]
  duplicateCount: number
  duplicates: { line: number; phone: string; firstLine: number }[]
  skippedCount: number
  skipped: { line: number; reason: string }[]
  sample: ImportRow[]
  /** After the import only. */
  listId?: number
  listName?: string
  created?: number
  updated?: number
}

const PHONE_HEADER =
  /^(phone|phone[ _]?number|mobile|mobile[ _]?number|cell|whats ?app|wa[ _]?id|msisdn|number|tel|telephone|telefon|telefonnummer|mobil|mobilnummer|handy|handynummer|telefono|teléfono|celular|móvil|movil|numero|número|telefone|portable|cellulare)$/i
const NAME_HEADER = /^(name|full ?name|contact|contact ?name|nombre|nome|nom|vorname|first ?name)$/i
const TAGS_HEADER = /^(tags?|labels?|etiquetas?|segment|segments|groups?)$/i

export class ContactImporter {
  constructor(
    private readonly contacts: ContactsService,
    private readonly repo: ContactsRepo,
    private readonly now: () => number,
  ) {}

  /** The report of the file, nothing written (a read). */
  *previewUnit(workspaceId: number, input: ImportInput): Q<ImportReport> {
    return (yield* this.analyze(workspaceId, input)).report
  }

  /** The import of the file, in one transaction (run with the event log's transact). */
  *commitUnit(workspaceId: number, userId: number | null, input: ImportInput, batch: Emitter): Q<ImportReport> {
    const extraTags = (input.tags ?? []).map(cleanTag).filter((t): t is string => t !== undefined)
    // Analyzed inside the transaction: "existing" is exact at the moment of writing.
    const { report, rows } = yield* this.analyze(workspaceId, input)
    if (report.valid === 0) throw Errors.csvInvalid('No row of the file has a valid phone number; nothing was imported')
    const now = this.now()
    const listName = (input.listName?.trim() || `Import ${new Date(now).toISOString().slice(0, 16).replace('T', ' ')}`).slice(0, 200)
    const repo = this.repo
    const { sample: _s, ...kept } = report
    const listId = yield* repo.createList(workspaceId, listName, kept, userId, now)
    let created = 0
    let updated = 0
    for (const r of rows) {
      const existing = yield* this.contacts.byExternalIdUnit(workspaceId, r.phone)
      let id: number
      if (existing) {
        const set: ContactPatch = { updatedAt: now }
        if (r.name) set.name = r.name
        if (Object.keys(r.attributes).length) set.attributes = { ...(existing.attributes ?? {}), ...r.attributes }
        yield* repo.update(existing.id, set)
        id = existing.id
        updated++
      } else {
        id = (yield* repo.insert({
          workspaceId,
          kind: 'whatsapp',
          externalId: r.phone,
          phone: r.phone,
          name: r.name,
          attributes: r.attributes,
          createdAt: now,
          updatedAt: now,
        })).id
        created++
      }
      try {
        yield* this.contacts.addTagsUnit(workspaceId, id, [...r.tags, ...extraTags])
      } catch (err) {
        // Past the per-contact tag limit: the contact is imported, the extra tags are not.
        // That refusal comes before any write; a database error is not caught (PostgreSQL
        // would have aborted the transaction).
        if (!(err instanceof AppError)) throw err
      }
      yield* repo.addToList(listId, id)
    }
    batch.emit(workspaceId, 'contacts.imported', { listId, created, updated })
    return { ...report, listId, listName, created, updated }
  }

  private *analyze(workspaceId: number, input: ImportInput): Q<{ report: ImportReport; rows: ImportRow[] }> {
    let table: ReturnType<typeof parseCsv>
    try {
      table = parseCsv(input.csv, { separator: input.separator, maxRecords: MAX_IMPORT_ROWS + 1 })
    } catch (err) {
      if (err instanceof CsvError) throw Errors.csvInvalid(err.message)
      throw err
    }
    const [header, ...records] = table.records
    if (!header || header.fields.every((f) => f.trim() === ''))
      throw Errors.csvInvalid('The file is empty: the first line must name the columns')
    const columns = header.fields.map((h) => h.trim())
    const index = (name: string | undefined, what: string): number | null => {
      if (name === undefined || name === '') return null
      const i = columns.findIndex((c) => c === name.trim())
      if (i < 0) throw Errors.csvInvalid(`The ${what} column "${name}" is not in the file (columns: ${columns.join(', ')})`)
      return i
    }
    const m = input.mapping ?? {}
    const phoneIdx = m.phone !== undefined ? index(m.phone, 'phone') : columns.findIndex((c) => PHONE_HEADER.test(c))
    if (phoneIdx === null || phoneIdx < 0) {
      throw Errors.csvInvalid(`No phone column found; name it "phone" or choose it (columns: ${columns.join(', ')})`)
    }
    const detect = (re: RegExp) => {
      const i = columns.findIndex((c, j) => j !== phoneIdx && re.test(c))
      return i < 0 ? null : i
    }
    const nameIdx = m.name !== undefined ? index(m.name, 'name') : detect(NAME_HEADER)
    const tagsIdx = m.tags !== undefined ? index(m.tags, 'tags') : detect(TAGS_HEADER)
    const taken = new Set([phoneIdx, nameIdx, tagsIdx].filter((i): i is number => i !== null))
    const attrIdx = (m.attributes ?? columns.filter((c, i) => !taken.has(i) && c !== '')).map((c) => index(c, 'attribute')!)
    const cc = input.defaultCountryCode ? normalizeCountryCode(input.defaultCountryCode) : undefined
    if (input.defaultCountryCode && !cc)
      throw Errors.csvInvalid(`"${input.defaultCountryCode}" is not a country calling code (1–3 digits, e.g. 49)`)
    if (records.length > MAX_IMPORT_ROWS) throw Errors.csvInvalid(`The file has more than ${MAX_IMPORT_ROWS} rows; split it`)

    const report: ImportReport = {
      separator: table.separator,
      columns,
      mapping: {
        phone: columns[phoneIdx]!,
        name: nameIdx === null ? null : columns[nameIdx]!,
        tags: tagsIdx === null ? null : columns[tagsIdx]!,
        attributes: attrIdx.map((i) => columns[i]!),
      },
      rows: records.length,
      valid: 0,
      newContacts: 0,
      existingContacts: 0,
      invalidCount: 0,
      invalid: [],
      duplicateCount: 0,
      duplicates: [],
      skippedCount: 0,
      skipped: [],
      sample: [],
    }
    const seen = new Map<string, number>()
    const rows: ImportRow[] = []
    for (const rec of records) {
      const cell = (i: number | null) => (i === null ? '' : (rec.fields[i] ?? '').trim())
      if (rec.fields.every((f) => f.trim() === '')) {
        report.skippedCount++
        if (report.skipped.length < REPORT_LIMIT) report.skipped.push({ line: rec.line, reason: 'empty row' })
        continue
      }
      const rawPhone = cell(phoneIdx)
      const phone = normalizePhone(rawPhone, cc)
      if (!phone.ok) {
        report.invalidCount++
        if (report.invalid.length < REPORT_LIMIT)
          report.invalid.push({ line: rec.line, value: rawPhone.slice(0, 60), reason: phone.reason })
        continue
      }
      const first = seen.get(phone.digits)
      if (first !== undefined) {
        report.duplicateCount++
        if (report.duplicates.length < REPORT_LIMIT) report.duplicates.push({ line: rec.line, phone: phone.digits, firstLine: first })
        continue
      }
      seen.set(phone.digits, rec.line)
      let attributes: Record<string, string>
      try {
        attributes = cleanAttributes(Object.fromEntries(attrIdx.map((i) => [columns[i]!, cell(i)])))
      } catch (err) {
        report.skippedCount++
        if (report.skipped.length < REPORT_LIMIT) report.skipped.push({ line: rec.line, reason: (err as Error).message })
        continue
      }
      const tags = cell(tagsIdx)
        .split(/[|,;]/)
        .map(cleanTag)
        .filter((t): t is string => t !== undefined)
      rows.push({
        line: rec.line,
        phone: phone.digits,
        name: cell(nameIdx).slice(0, 200) || null,
        tags: [...new Set(tags)],
        attributes,
        existing: false,
      })
    }
    // Which numbers are already contacts, in one statement per thousand.
    const existing = yield* this.repo.existingPhones(
      workspaceId,
      rows.map((x) => x.phone),
    )
    for (const r of rows) r.existing = existing.has(r.phone)
    report.valid = rows.length
    report.existingContacts = rows.filter((r) => r.existing).length
    report.newContacts = rows.length - report.existingContacts
    report.sample = rows.slice(0, SAMPLE_ROWS)
    return { report, rows }
  }
}
