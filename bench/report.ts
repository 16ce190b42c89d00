/** One system's figure in one scenario. */
export interface Figure {
  system: string
  ms: number
  files: number
  bytes: number
  filesPerSec: number
  mbPerSec: number
}

export interface Scenario {
  name: string
  /** The first figure is cas-store's; ratios are against it. */
  figures: Figure[]
  extra?: Record<string, unknown>
}

export interface Target {
  name: string
  goal: string
  actual: number
  unit: string
  met: boolean
}

export interface Report {
  date: string
  machine: { node: string, platform: string, cpus: number, cpuModel: string, memoryGiB: number }
  corpus: { path: string, files: number, bytes: number, medianSize: number, p90Size: number, maxSize: number }
  /** Where the stores were made (the filesystem under test). */
  workDir: string
  runs: number
  scenarios: Scenario[]
  targets: Target[]
}

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })

/** The report as markdown: one table per scenario (files/s, MB/s, cas-store's speed-up), then the targets. */
export function formatMarkdown (report: Report): string {
  const lines: string[] = []
  const { machine, corpus } = report
  lines.push(`# cas-store benchmark, ${report.date.slice(0, 10)}`, '')
  lines.push(`Node ${machine.node}, ${machine.platform}, ${machine.cpus} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB.`)
  lines.push(`Corpus: ${fmt(corpus.files)} files, ${fmt(corpus.bytes / 1e6, 1)} MB (median ${fmt(corpus.medianSize)} B, p90 ${fmt(corpus.p90Size)} B, max ${fmt(corpus.maxSize / 1e6, 1)} MB). Median of ${report.runs} run(s). Stores in ${report.workDir}.`, '')
  for (const scenario of report.scenarios) {
    lines.push(`## ${scenario.name}`, '', '| system | files/s | MB/s | cas-store is |', '|---|---:|---:|---:|')
    const cas = scenario.figures[0]!
    for (const f of scenario.figures) {
      const speedup = f === cas ? '' : `${fmt(f.ms / cas.ms, 2)}x as fast`
      lines.push(`| ${f.system} | ${fmt(f.filesPerSec)} | ${fmt(f.mbPerSec, 1)} | ${speedup} |`)
    }
    if (scenario.extra !== undefined) lines.push('', `(${Object.entries(scenario.extra).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.length : typeof v === 'number' ? fmt(v, 1) : String(v)}`).join(', ')})`)
    lines.push('')
  }
  lines.push('## Targets', '', '| target | goal | actual | met |', '|---|---|---:|---|')
  for (const t of report.targets) lines.push(`| ${t.name} | ${t.goal} | ${fmt(t.actual, 2)}${t.unit} | ${t.met ? 'yes' : '**NO**'} |`)
  const missed = report.targets.filter(t => !t.met)
  lines.push('', missed.length === 0 ? 'All targets met.' : `Missed: ${missed.map(t => t.name).join('; ')}.`, '')
  return lines.join('\n')
}
