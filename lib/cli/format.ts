/** `1,234,567`. */
export function formatCount (n: number): string {
  return Math.round(n).toLocaleString('en-US')
}

/** `512 B`, `1.5 KiB`, `3.2 GiB`. */
export function formatBytes (n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = n
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`
}

/** `1 problem`, `2 problems`, `1,234 files`: a count with its noun in the right number. */
export function plural (n: number, one: string, many = one + 's'): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`
}
