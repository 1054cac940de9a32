/**
 * Byte counts for people, shared by the CLI and the browser demo: no Node
 * imports here.
 */

/** Binary units, smallest first. */
const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;

export type ByteUnit = (typeof BYTE_UNITS)[number];

/**
 * Bytes in binary units: "512 B", "6.1 MiB". Scales down by 1024 while the
 * value is at least 1024 and a unit up to `largest` remains, so with
 * largest 'GiB' 2 TiB reads "2048.0 GiB".
 */
export function formatBytes(n: number, largest: ByteUnit = 'TiB'): string {
  const top = BYTE_UNITS.indexOf(largest);
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < top) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${BYTE_UNITS[unit]}`;
}
