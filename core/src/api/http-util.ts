/** Reply constructors and bounded, validated reading of JSON request bodies. */
import type { IncomingMessage } from 'node:http';
import { STATUS_CODES } from 'node:http';
import { isPlainObject, parseJsonBounded } from '../util/json.js';
import type { Reply } from './types.js';

/** A request problem that maps directly to a status code and a reason sent to the client. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'HttpError';
  }
}

/** The client went away before its request body was complete: nobody to answer, nothing to report loudly. */
export class ClientDisconnected extends HttpError {
  constructor() {
    super(400, 'client disconnected before the request body was complete');
    this.name = 'ClientDisconnected';
  }
}

export const textReply = (status: number, text: string, headers?: Record<string, string>): Reply => ({ status, text, headers });
export const jsonReply = (status: number, json: unknown): Reply => ({ status, json });
export const statusOnly = (status: number): Reply => ({ status });
/** Python's send_error(code): the standard reason phrase, optionally with details. */
export const errorReply = (status: number, detail?: string): Reply =>
  ({ status, text: detail ? `${STATUS_CODES[status] ?? 'Error'}: ${detail}` : STATUS_CODES[status] ?? 'Error' });

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Read the body as a JSON object, as Patroni's _read_json_content: Content-Length is mandatory
 * (411) unless the body is optional; the body must be a JSON object (400), non-empty unless optional.
 * Bodies larger than `maxBytes` are refused with 413 without being buffered.
 */
export async function readJsonObject(req: IncomingMessage, opts: { optional: boolean; maxBytes: number }): Promise<Record<string, unknown>> {
  const lengthHeader = req.headers['content-length'];
  if (lengthHeader === undefined) {
    // A body we will not read (chunked): refuse rather than act on "no body" while the client sent one.
    if (req.headers['transfer-encoding'] !== undefined) throw new HttpError(411, 'Content-Length header is required');
    if (opts.optional) return {};
    throw new HttpError(411, 'Content-Length header is required');
  }
  const declared = Number(lengthHeader);
  if (!Number.isSafeInteger(declared) || declared < 0) throw new HttpError(400, 'invalid Content-Length');
  if (declared === 0 && opts.optional) return {};
  if (declared > opts.maxBytes) throw new HttpError(413, `request body larger than ${opts.maxBytes} bytes`);

  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > opts.maxBytes) throw new HttpError(413, `request body larger than ${opts.maxBytes} bytes`);
      chunks.push(chunk);
    }
  } catch (e) {
    if (e instanceof HttpError) throw e;
    throw new ClientDisconnected();
  }
  if (size < declared) throw new ClientDisconnected();
  let text: string;
  try {
    text = utf8.decode(Buffer.concat(chunks));
  } catch {
    throw new HttpError(400, 'request body is not valid JSON: invalid UTF-8');
  }
  // The same bounded parser as DCS values: a deeply nested body is a 400, never a stack overflow.
  const r = parseJsonBounded(text, { maxBytes: opts.maxBytes });
  if (!r.ok) throw new HttpError(400, `request body is not valid JSON: ${r.reason}`);
  const parsed = r.value;
  if (!isPlainObject(parsed)) throw new HttpError(400, 'request body must be a JSON object');
  if (!opts.optional && Object.keys(parsed).length === 0) throw new HttpError(400, 'request body must not be empty');
  return parsed;
}
