import path from 'node:path'
import { InvalidArgumentError } from '../errors.js'
import { ownerIdOfUniqueId, uniqueId } from '../layout/tempName.js'

/** Infix of an import's temp folders, next to the target: `.<name>.cas-import-<unique id>`. */
export const IMPORT_TEMP_INFIX = '.cas-import-'
/** Infix of a replaced target on its way out: `.<name>.cas-old-<the same id as the import's temp folder>`. */
export const IMPORT_OLD_INFIX = '.cas-old-'

/**
 * A fresh temp folder path next to `target` that belongs to this call alone (pid, thread, counter and random
 * bytes: the writer's temp name rules). Hidden (leading dot) and never a valid package name, so no resolver or
 * `.bin` linker mistakes it for a package while it exists.
 */
export function stagePathFor (target: string): string {
  const id = uniqueId()
  // The target's name is there for a human reading the folder; only the infix and the id are ever parsed. It is
  // cut so the whole name stays within NAME_MAX: npm allows 214-character package names, and the id of a
  // long-running process on a host with 7-digit pids reaches ~31 characters.
  const room = NAME_MAX - 1 - IMPORT_TEMP_INFIX.length - id.length
  return path.join(path.dirname(target), `.${cutToBytes(path.basename(target), room)}${IMPORT_TEMP_INFIX}${id}`)
}

/** The longest file name most file systems take (ext4, xfs, btrfs, tmpfs: 255 bytes). */
const NAME_MAX = 255

/** The longest start of `name` that is at most `bytes` long in UTF-8, never splitting a character. */
function cutToBytes (name: string, bytes: number): string {
  if (Buffer.byteLength(name) <= bytes) return name
  let out = ''
  let used = 0
  for (const char of name) {
    used += Buffer.byteLength(char)
    if (used > bytes) break
    out += char
  }
  return out
}

/**
 * Where the import that made `stage` moves an old target aside: the same name and id with the `.cas-old-` infix.
 * Named after the stage (not a fresh id) so that the stage's path alone, as an import journal records it, tells a
 * cleaner both folders a killed import may leave (see `maint/importLeftovers.ts`).
 */
export function asidePathOf (stage: string): string {
  const name = path.basename(stage)
  const at = name.lastIndexOf(IMPORT_TEMP_INFIX)
  if (at < 1) throw new InvalidArgumentError(`not an import temp folder: ${stage}`)
  const id = name.slice(at + IMPORT_TEMP_INFIX.length)
  return path.join(path.dirname(stage), name.slice(0, at) + IMPORT_OLD_INFIX + id)
}

/**
 * The owner id (`<pid>-<thread>-<random>`, see `layout/tempName.ts`) of the import that named a temp folder
 * `.<name>.cas-import-<unique id>`, or undefined when `folder`'s name has any other shape.
 */
export function stageOwner (folder: string): string | undefined {
  const name = path.basename(folder)
  const at = name.lastIndexOf(IMPORT_TEMP_INFIX)
  // `.<name>`: a leading dot and at least one character of the target's name.
  if (at < 2 || name[0] !== '.') return undefined
  return ownerIdOfUniqueId(name.slice(at + IMPORT_TEMP_INFIX.length))
}
