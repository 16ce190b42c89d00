import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import { decodeRemoteIndexDoc, type RemotePack } from '../../lib/remote/indexCodec.js'
import { remoteFilePath, remoteIndexPath } from '../../lib/remote/layout.js'
import type { PackageIndex } from '../../lib/types.js'
import { sha512Hex } from './content.js'
import { serverObjects } from './nginx.js'

/** A package index found on the server, with the objects it needs. */
export interface ServerPackage {
  key: string
  index: PackageIndex
  pack?: RemotePack
  /** `files/…` paths the package needs: its loose files and its pack. */
  needs: string[]
}

/** What a remote cache's data folder holds, read as a client would, and everything wrong with it. */
export interface ServerView {
  objects: string[]
  packages: Map<string, ServerPackage>
  /** `files/…` objects some index needs. */
  referenced: Set<string>
  /** A content object that does not hash to its name; an index naming an object that is absent or wrong. */
  problems: string[]
}

/** Reads every object in a remote cache's data folder and checks what a reader relies on. */
export function inspectServer (dataDir: string): ServerView {
  const objects = serverObjects(dataDir)
  const present = new Set(objects)
  const packages = new Map<string, ServerPackage>()
  const referenced = new Set<string>()
  const problems: string[] = []
  const read = (rel: string): Buffer => fs.readFileSync(path.join(dataDir, rel))
  for (const rel of objects) {
    if (rel.startsWith('files/')) {
      if (sha512Hex(read(rel)) !== rel.slice('files/'.length).replace('/', '')) problems.push(`${rel} does not hash to its name`)
      continue
    }
    const data = read(rel)
    let key: string
    let decoded: ReturnType<typeof decodeRemoteIndexDoc>
    try {
      key = (JSON.parse(decodeRemoteIndexDocText(data)) as { key: string }).key
      decoded = decodeRemoteIndexDoc(key, data)
    } catch (err) {
      problems.push(`${rel} is unreadable: ${(err as Error).message}`)
      continue
    }
    if (rel !== remoteIndexPath(key)) problems.push(`${rel} holds the index of ${key}`)
    const { index, pack } = decoded
    const needs = new Set<string>()
    for (const [name, info] of index.files) {
      if (pack?.offsets.has(info.digest) === true) continue
      const file = remoteFilePath(info.digest)
      needs.add(file)
      if (!present.has(file)) problems.push(`${key}: ${name} (${file}) is not on the server`)
    }
    if (pack !== undefined) {
      const file = remoteFilePath(pack.digest)
      needs.add(file)
      if (!present.has(file)) problems.push(`${key}: its pack ${file} is not on the server`)
      else {
        const bytes = read(file)
        for (const [name, info] of index.files) {
          const offset = pack.offsets.get(info.digest)
          if (offset !== undefined && sha512Hex(bytes.subarray(offset, offset + info.size)) !== info.digest) problems.push(`${key}: ${name} is wrong in its pack`)
        }
      }
    }
    for (const n of needs) referenced.add(n)
    packages.set(key, { key, index, ...(pack === undefined ? {} : { pack }), needs: [...needs] })
  }
  return { objects, packages, referenced, problems }
}

function decodeRemoteIndexDocText (data: Buffer): string {
  return (data[0] === 0x1f ? zlib.gunzipSync(data) : data).toString('utf8')
}
