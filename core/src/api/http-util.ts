/** Reply constructors, bounded and validated reading of JSON request bodies, and closing without a reset. */
import type { IncomingMessage } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
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

/**
 * Closing a socket with unread input makes the kernel send a reset, and a client still writing its
 * body then fails on its next write, usually before it reads the answer already sent. So a refused
 * connection ends our side, drops what the client still sends, and closes when the client does
 * (the "lingering close" of web servers), within these bounds.
 */
export const LINGER_LIMITS = { maxBytes: 16 * 1024 * 1024, ms: 5_000 } as const;

/** End our side of a connection, drop what the client still sends, close after it does (`LINGER_LIMITS`). */
export function lingerClose(socket: Duplex, limits: { maxBytes: number; ms: number } = LINGER_LIMITS): void {
  let seen = 0;
  const cut = () => { clearTimeout(timer); socket.destroy(); };
  // The client is done; what we wrote may still be on its way out.
  const closed = () => (socket.writableFinished ? cut() : socket.once('finish', cut));
  const timer = setTimeout(cut, limits.ms);
  timer.unref();
  socket.on('error', cut);
  socket.on('data', (b: Buffer) => { seen += b.length; if (seen > limits.maxBytes) cut(); });
  socket.once('end', closed);
  socket.once('close', () => clearTimeout(timer));
  socket.end();
  socket.resume();
}

/**
 * Answer a request whose body is still arriving without resetting it: Node's HTTP server ends a
 * `Connection: close` response with `socket.destroySoon()` (and reads and drops the rest of the
 * body meanwhile), so that is where the lingering close goes.
 */
export function lingerOnClose(socket: Socket): void {
  socket.destroySoon = () => lingerClose(socket);
}
