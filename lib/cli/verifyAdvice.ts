import { unsettled, type FileProblem, type VerifyReport } from '../maint/verifyStore.js'
import { formatDuration } from './duration.js'
import { plural } from './format.js'

/** What `cas verify` tells the user to do next, in words; the same text goes into the human and JSON reports. */
export interface VerifyAdvice {
  /** With deleted indexes: what brings those packages back, for pnpm and for installers built on cas-store. */
  restore?: { pnpm: string, casStore: string }
  /** When a corrupt file had other hard links: the likely cause, and what it means for the projects linking it. */
  hardLinks?: string
  /** When problems are left: the next command to run, fitted to why they are left. */
  nextStep?: string
}

/** The package id (`name@version`) of a package index key (`<integrity>\t<pkgId>`); a v10 key as it is. */
export function pkgIdOfKey (key: string): string {
  const tab = key.indexOf('\t')
  return tab < 0 ? key : key.slice(tab + 1)
}

/** True when the problem is a corrupt file that changed within the grace period (`--fix` keeps those). */
export function isYoungProblem (p: FileProblem, graceMs: number, now = Date.now()): boolean {
  return p.action === 'kept: younger than grace' || (p.changedAt !== undefined && now - p.changedAt < graceMs)
}

/** The advice of a verify report (see {@link VerifyAdvice}). */
export function verifyAdvice (r: VerifyReport, graceMs: number, now = Date.now()): VerifyAdvice {
  const advice: VerifyAdvice = {}
  if (r.deletedIndexes.length > 0) {
    advice.restore = {
      pnpm: 'In each project that uses them, delete node_modules and run `pnpm install`. Without that, the ' +
        'projects keep their own copies, which are hard links to the same files (the damaged ones, if they were ' +
        'edited there): a plain `pnpm install` says "Already up to date", and `pnpm install --force` (pnpm 12.4) ' +
        'fetches the package into the store again but leaves those copies. A project that installs them anew fetches them again.',
      casStore: 'An installer built on cas-store fetches each of them again at its next `ensurePackage`.',
    }
  }
  const linked = new Set(r.problems.filter(p => (p.links ?? 1) > 1).map(p => p.path)).size
  if (linked > 0) {
    advice.hardLinks = `${plural(linked, 'corrupt file')} had other hard links: pnpm hard-links store files into ` +
      'projects\' node_modules, so an edit there (by hand, or a script patching an installed package) changes the ' +
      'store\'s copy too. The projects linking them keep the edited bytes until their node_modules is deleted and installed again.'
  }
  if (r.healthy || r.interrupted) return advice

  const { problems: left, unreadableIndexes: { length: leftIndexes } } = unsettled(r)
  const young = left.filter(p => isYoungProblem(p, graceMs, now))
  const count = left.length + leftIndexes
  // When the newest of the young files leaves the grace period.
  const waitMs = Math.max(0, ...young.map(p => (p.changedAt ?? now) + graceMs - now))
  const why = 'pnpm writes store files in place without cas-store\'s locks, so a file that changed within the grace ' +
    `period (${formatDuration(graceMs)}) may be one it is writing right now, and \`--fix\` never removes one`
  const wait = formatDuration(Math.ceil(waitMs / 1000) * 1000)
  const later = (again: boolean): string => `run \`cas verify --fix\`${again ? ' again' : ''} in ${wait}, or with ` +
    '`--grace 0` if no install is using this store'
  if (!r.fix) {
    if (young.length === 0) {
      advice.nextStep = `${plural(count, 'problem')} found. Run \`cas verify --fix\` to repair them.`
    } else if (young.length === count) {
      const first = later(false)
      advice.nextStep = `${plural(count, 'problem')} found; ${count === 1 ? 'it' : 'all'} changed within the grace ` +
        `period: ${why}. ${first[0]!.toUpperCase()}${first.slice(1)}.`
    } else {
      advice.nextStep = `${plural(count, 'problem')} found; ${young.length} changed within the grace period: ${why}. ` +
        `Run \`cas verify --fix\` for the others, then ${later(true)}.`
    }
    return advice
  }
  const reasons = []
  if (young.length > 0) reasons.push(`${young.length} changed within the grace period, so kept: ${why}; ${later(true)}`)
  if (left.length - young.length > 0) {
    reasons.push(`${left.length - young.length} not removable here (not a regular file, or a read-only store): see above`)
  }
  if (leftIndexes > 0) reasons.push(`${plural(leftIndexes, 'unreadable index', 'unreadable indexes')} could not be deleted`)
  advice.nextStep = `${plural(count, 'problem')} left: ${reasons.join('; ')}.`
  return advice
}
