// CSV import in two steps: the file is checked first (which column is the number, the
// name, the tags; invalid numbers, duplicates and empty rows, each with its line), and
// only "Import" stores it — exactly the file that was previewed.
import { useState } from 'preact/hooks'
import { checkImport, commitImport, mapColumn, pickImportFile } from './actions.ts'
import { createImportState, type ColumnKey } from './state.ts'

// The report lists at most this many problem rows on screen (the counts are complete).
const SHOWN = 50

export function ImportPanel({ onDone }: { onDone: () => void }) {
  const [s] = useState(createImportState)
  const { csv, report, mapping, country, extraTags, listName, error, busy, result } = s

  const r = report.value
  if (result.value) {
    const x = result.value
    return (
      <div class="panel" role="status">
        <p>
          Imported into “{x.listName}”: {x.created?.toLocaleString()} new, {x.updated?.toLocaleString()} updated.{' '}
          {x.invalidCount + x.duplicateCount + x.skippedCount} rows were not imported.
        </p>
        <button type="button" class="primary" onClick={onDone}>
          Done
        </button>
      </div>
    )
  }
  const column = (key: ColumnKey, label: string, optional: boolean) =>
    r && (
      <label class="field inline">
        <span>{label}</span>
        <select value={mapping.value[key] ?? ''} onChange={(e) => mapColumn(s, key, e.currentTarget.value || undefined)}>
          {optional && <option value="">(none)</option>}
          {r.columns.map((c) => (
            <option key={c} value={c}>
              {c}
            </option>
          ))}
        </select>
      </label>
    )
  return (
    <div class="panel import">
      <h2>Import contacts from a CSV file</h2>
      <p class="muted small">
        One row per contact, the first line naming the columns. Comma or semicolon separated (Excel’s either way). Numbers with the country
        code (+49 151 …); for numbers written nationally (0151 …) choose a default country code. Other columns become attributes you can use
        in templates.
      </p>
      <input
        type="file"
        accept=".csv,text/csv,text/plain"
        aria-label="CSV file"
        onChange={(e) => void pickImportFile(s, e.currentTarget.files?.[0])}
      />
      {csv.value !== null && (
        <div class="import-options">
          {column('phone', 'Phone column', false)}
          {column('name', 'Name column', true)}
          {column('tags', 'Tags column', true)}
          <label class="field inline">
            <span>Default country code</span>
            <input
              size={4}
              placeholder="e.g. 49"
              value={country.value}
              onInput={(e) => (country.value = e.currentTarget.value)}
              onBlur={() => void checkImport(s)}
            />
          </label>
          <label class="field inline">
            <span>Add tags</span>
            <input placeholder="spring, fair" value={extraTags.value} onInput={(e) => (extraTags.value = e.currentTarget.value)} />
          </label>
          <label class="field inline">
            <span>List name</span>
            <input value={listName.value} onInput={(e) => (listName.value = e.currentTarget.value)} />
          </label>
        </div>
      )}
      {error.value && (
        <p class="form-error" role="alert">
          {error.value}
        </p>
      )}
      {r && (
        <div class="report">
          <p>
            <strong>{r.valid.toLocaleString()}</strong> of {r.rows.toLocaleString()} rows will be imported ({r.newContacts.toLocaleString()}{' '}
            new, {r.existingContacts.toLocaleString()} already contacts, updated). {r.invalidCount} invalid numbers, {r.duplicateCount}{' '}
            duplicates, {r.skippedCount} skipped rows. Separator “{r.separator === '\t' ? 'tab' : r.separator}”; attributes:{' '}
            {r.mapping.attributes.join(', ') || 'none'}.
          </p>
          {r.invalid.length > 0 && (
            <details open>
              <summary>Invalid numbers ({r.invalidCount})</summary>
              <ul>
                {r.invalid.slice(0, SHOWN).map((x) => (
                  <li key={x.line}>
                    Line {x.line}: “{x.value}” — {x.reason}
                  </li>
                ))}
              </ul>
            </details>
          )}
          {r.duplicates.length > 0 && (
            <details>
              <summary>Duplicates ({r.duplicateCount})</summary>
              <ul>
                {r.duplicates.slice(0, SHOWN).map((x) => (
                  <li key={x.line}>
                    Line {x.line}: +{x.phone} is already on line {x.firstLine}
                  </li>
                ))}
              </ul>
            </details>
          )}
          {r.skipped.length > 0 && (
            <details>
              <summary>Skipped rows ({r.skippedCount})</summary>
              <ul>
                {r.skipped.slice(0, SHOWN).map((x) => (
                  <li key={x.line}>
                    Line {x.line}: {x.reason}
                  </li>
                ))}
              </ul>
            </details>
          )}
          {r.sample.length > 0 && (
            <div class="table-wrap">
              <table>
                <caption>First rows, as they will be stored</caption>
                <thead>
                  <tr>
                    <th>Line</th>
                    <th>Number</th>
                    <th>Name</th>
                    <th>Tags</th>
                    <th>Attributes</th>
                  </tr>
                </thead>
                <tbody>
                  {r.sample.map((x) => (
                    <tr key={x.line}>
                      <td>{x.line}</td>
                      <td>
                        +{x.phone}
                        {x.existing ? <span class="muted small"> (existing)</span> : null}
                      </td>
                      <td>{x.name ?? ''}</td>
                      <td>{x.tags.join(', ')}</td>
                      <td class="attrs">
                        {Object.entries(x.attributes)
                          .map(([k, v]) => `${k}: ${v}`)
                          .join(' · ')}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <div class="actions">
            <button type="button" class="primary" disabled={busy.value || r.valid === 0} onClick={() => void commitImport(s)}>
              Import {r.valid.toLocaleString()} contacts
            </button>
            <button type="button" onClick={onDone}>
              Cancel
            </button>
          </div>
        </div>
      )}
    </div>
  )
}
