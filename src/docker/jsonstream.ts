/**
 * The daemon's progress streams (POST /images/load, /images/create): a
 * sequence of JSON objects, one per line ("\r\n" after each). An HTTP 200
 * does not mean success: a failure arrives as one more object,
 *   {"errorDetail":{"message":"..."},"error":"..."}
 * and the stream ends. Podman answers with a single object, no newline.
 *
 * Memory: one line at a time, capped at MAX_LINE bytes (a hostile or broken
 * server cannot make us buffer without bound).
 */
import { ErrorCode, PatcherError } from '../errors.js';

/** One message of a progress stream; only the fields we read are typed. */
export interface JsonMessage {
  stream?: string;
  status?: string;
  id?: string;
  progress?: string;
  error?: string;
  errorDetail?: { code?: number; message?: string };
  aux?: unknown;
  [key: string]: unknown;
}

const MAX_LINE = 1 << 20;

function parseLine(line: string): JsonMessage | undefined {
  const text = line.trim();
  if (text === '') return undefined;
  try {
    const value = JSON.parse(text) as unknown;
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as JsonMessage;
  } catch {
    // not JSON: keep it as plain text
  }
  return { stream: text };
}

/**
 * Split a byte stream into JSON messages. Yields non-JSON lines as
 * `{stream: line}`. Throws PatcherError DOCKER on an over-long line; errors
 * of the byte stream itself propagate unchanged.
 */
export async function* jsonMessages(bytes: AsyncIterable<Uint8Array>): AsyncGenerator<JsonMessage> {
  const decoder = new TextDecoder();
  let pending = '';
  for await (const chunk of bytes) {
    pending += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const message = parseLine(pending.slice(0, newline));
      pending = pending.slice(newline + 1);
      if (message) yield message;
    }
    if (pending.length > MAX_LINE) {
      throw new PatcherError(ErrorCode.Docker, `docker: progress message longer than ${MAX_LINE} bytes`);
    }
  }
  pending += decoder.decode();
  const last = parseLine(pending);
  if (last) yield last;
}

/** The error a message carries, on one line, or undefined. */
export function messageError(message: JsonMessage): string | undefined {
  const text = message.errorDetail?.message || message.error;
  if (typeof text !== 'string' || text === '') return undefined;
  return text.replace(/\s+/g, ' ').trim();
}
