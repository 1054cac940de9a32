// The frame reader under size claims: memory follows the bytes that arrive,
// never the length a frame declares.
import { describe, expect, it } from 'vitest';
import { ByteReader, FrameReader, FrameType, encodeFrame, encodeMagic } from '../../src/format/image/frames.js';

/** A source that yields `chunks`, then waits on `gate` before it ends. */
function stalled(chunks: Uint8Array[], gate: Promise<void>): AsyncIterable<Uint8Array> {
  return (async function* () {
    yield* chunks;
    await gate;
  })();
}

describe('frames', () => {
  it('round-trips a frame and stops cleanly at the end', async () => {
    const payload = new Uint8Array(3 << 20).map((_, i) => i * 7);
    const reader = new FrameReader(stalled([encodeMagic(), encodeFrame(FrameType.Window, payload)], Promise.resolve()));
    await reader.readMagic();
    const frame = await reader.next();
    expect(frame?.type).toBe(FrameType.Window);
    expect(Buffer.from(frame!.payload).equals(Buffer.from(payload))).toBe(true);
    expect(await reader.next()).toBeNull();
  });

  it('a frame claiming 200 MiB allocates by what arrives while it waits for the rest', async () => {
    const head = new Uint8Array(5);
    head[0] = FrameType.Window;
    new DataView(head.buffer).setUint32(1, 200 << 20, true);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const reader = new FrameReader(stalled([encodeMagic(), head, new Uint8Array(1000)], gate));
    await reader.readMagic();
    const before = process.memoryUsage().arrayBuffers;
    const pending = reader.next();
    await new Promise((r) => setTimeout(r, 50));
    const during = process.memoryUsage().arrayBuffers;
    release();
    await expect(pending).rejects.toThrow(/truncated in frame 0 \(window\)/);
    expect(during - before).toBeLessThan(16 << 20);
  });

  it('ByteReader fills exact counts across chunks and returns short only at the end', async () => {
    const chunks = [new Uint8Array([1, 2]), new Uint8Array([3]), new Uint8Array([4, 5, 6])];
    const r = new ByteReader((async function* () { yield* chunks; })());
    expect([...(await r.read(4))]).toEqual([1, 2, 3, 4]);
    expect([...(await r.read(5))]).toEqual([5, 6]);
    expect(r.offset).toBe(6);
  });
});
