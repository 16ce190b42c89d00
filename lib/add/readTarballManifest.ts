import fs from 'node:fs'
import { Parser, type ReadEntry } from 'tar'
import { manifestFromBytes } from '../pkgIndex/manifest.js'
import { packageRelativeName } from './addFilesFromTarball.js'

const MANIFEST_LIMIT = 1024 * 1024

/**
 * The package.json of a tarball file on disk (its indexed fields), read without adding anything: the parse stops
 * at that entry (npm packs it first, so this reads a few KB). Undefined when there is none or it is not JSON.
 * For `cas add --integrity`, which must know the package's id before it takes the package's lock.
 */
export async function readTarballManifest (file: string): Promise<Record<string, unknown> | undefined> {
  const source = fs.createReadStream(file)
  const parser = new Parser()
  return await new Promise<Record<string, unknown> | undefined>((resolve, reject) => {
    let found = false
    const finish = (value: Record<string, unknown> | undefined): void => {
      source.destroy()
      resolve(value)
    }
    parser.on('entry', (entry: ReadEntry) => {
      let name: string | undefined
      try {
        name = packageRelativeName(entry.path)
      } catch {
        name = undefined
      }
      if (found || name !== 'package.json' || entry.size > MANIFEST_LIMIT) {
        entry.resume()
        return
      }
      found = true
      const chunks: Buffer[] = []
      entry.on('data', (chunk: Buffer) => chunks.push(chunk))
      entry.on('end', () => { finish(manifestFromBytes(Buffer.concat(chunks))) })
    })
    parser.on('end', () => { if (!found) finish(undefined) })
    parser.on('error', reject)
    source.on('error', reject)
    source.pipe(parser)
  })
}
