// `node test/mutation/survivors.mjs <folder | folder/file> [file-substring]`: the mutants of one unit that no test
// noticed (Survived, NoCoverage), read from its committed incremental file: file:line, the mutator, the replacement.
import fs from 'node:fs'
import path from 'node:path'

process.stdout.on('error', () => process.exit(0)) // a closed pipe (| head) ends the listing
const [folder, only] = process.argv.slice(2)
if (folder === undefined) {
  process.stderr.write('usage: node test/mutation/survivors.mjs <folder> [file-substring]\n')
  process.exit(2)
}
const file = path.join(import.meta.dirname, '..', '..', 'reports', 'stryker-incremental', `${folder.replace('/', '-')}.json`)
const report = JSON.parse(fs.readFileSync(file, 'utf8'))
for (const [name, result] of Object.entries(report.files).sort(([a], [b]) => a.localeCompare(b))) {
  if (only !== undefined && !name.includes(only)) continue
  const lines = result.source.split('\n')
  for (const m of result.mutants) {
    if (m.status !== 'Survived' && m.status !== 'NoCoverage') continue
    const line = m.location.start.line
    const code = lines[line - 1]?.trim().slice(0, 110)
    process.stdout.write(`${name}:${line} ${m.status} ${m.mutatorName}: ${JSON.stringify(m.replacement ?? '')}\n    ${code}\n`)
  }
}
