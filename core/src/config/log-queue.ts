/**
 * stderr (or any non-blocking descriptor) as a log sink with Patroni's bounded queue.
 *
 * Lines are written synchronously while the descriptor takes them, so the last lines before a crash
 * are not lost. When the reader is slow (a full pipe: EAGAIN, or a partial write), records wait in
 * the stream's queue, in order, and everything after them queues too. At most `maxQueue` records wait
 * (`log.max_queue_size`, Patroni's default 1000); beyond that records are dropped and counted, so a
 * stalled log reader can never grow the agent's memory without bound. Once there is room again the
 * count is reported first, as Patroni's `QueueHandler has lost N log records` warning.
 */
import { writeSync } from 'node:fs';
import type { Writable } from 'node:stream';

/** Where lines go; anything with a synchronous write(string). */
export interface LineSink {
  write(line: string): void;
}

export const DEFAULT_MAX_QUEUE_SIZE = 1000;

export interface QueueOptions {
  /** Records that may wait for a slow reader; more are dropped and counted. */
  readonly maxQueue?: number;
  /** The line that reports `n` dropped records (rendered in the log's own format). */
  readonly lostLine?: (n: number) => string;
}

export interface QueueingSink extends LineSink {
  /** Records waiting for the reader now. */
  readonly pending: number;
  /** Records dropped since the last report. */
  readonly lost: number;
}

/** `fd` written directly; `stream` (which writes the same descriptor) holds what the reader is not ready for. */
export function queueingSink(fd: number, stream: Writable, o: QueueOptions = {}): QueueingSink {
  const maxQueue = Math.max(1, o.maxQueue ?? DEFAULT_MAX_QUEUE_SIZE);
  const lostLine = o.lostLine ?? ((n: number) => `QueueHandler has lost ${n} log records\n`);
  let pending = 0;
  let lost = 0;
  let listening = false;

  const enqueue = (chunk: Buffer | string): void => {
    if (pending >= maxQueue) {
      lost++;
      return;
    }
    if (!listening) {
      // A reader that went away (EPIPE) must not end the agent through an unhandled stream error.
      stream.on('error', () => undefined);
      listening = true;
    }
    pending++;
    stream.write(chunk, () => { pending--; });
  };

  const put = (line: string): void => {
    // Behind queued records a direct write would overtake them.
    if (pending > 0) return enqueue(line);
    const buf = Buffer.from(line);
    let written: number;
    try {
      written = writeSync(fd, buf);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') return enqueue(buf);
      // EPIPE: nobody reads our output any more; logging must never take the agent down.
      if (code === 'EPIPE') return;
      throw e;
    }
    if (written < buf.length) enqueue(buf.subarray(written));
  };

  return {
    get pending() { return pending; },
    get lost() { return lost; },
    write(line: string): void {
      if (lost > 0 && pending < maxQueue) {
        const n = lost;
        lost = 0;
        put(lostLine(n));
      }
      put(line);
    },
  };
}

/** stderr (2) or stdout (1), as Python's logging.StreamHandler behind Patroni's queue. */
export function fdSink(fd = 2, o: QueueOptions = {}): QueueingSink {
  return queueingSink(fd, fd === 1 ? process.stdout : process.stderr, o);
}
