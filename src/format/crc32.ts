/** crc32 (IEEE, as zip and gzip use): the per-frame and per-section integrity check. Platform-neutral. */

const CRC_TABLE = /* @__PURE__ */ (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/** crc32 of `data`, continuing from `crc` (0 to start). Returns an unsigned 32-bit value. */
export function crc32(data: Uint8Array, crc = 0): number {
  let c = ~crc;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
