/**
 * Raw HTTP/1.1 over a socket, so the fuzzer can send what no well-behaved client would: any method
 * token, broken Content-Length, garbage chunking, header injection, or a hang-up mid-body.
 */
import { connect } from 'node:net';

export interface RawRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: Buffer | null;
  /** Close our side right after sending (a client that goes away mid-request). */
  readonly hangUp?: boolean;
}

export interface RawResponse {
  /** Status from the status line; 0 when the server closed without one. */
  readonly status: number;
  readonly text: string;
  readonly ms: number;
}

/** Drop interim `100 Continue` responses: the final status is what the request got. */
function finalResponse(text: string): string {
  let t = text;
  while (/^HTTP\/1\.[01] 1\d\d[^\r]*\r\n/.test(t)) {
    const end = t.indexOf('\r\n\r\n');
    if (end < 0) break;
    t = t.slice(end + 4);
  }
  return t;
}

export function rawRequest(port: number, r: RawRequest, timeoutMs = 15_000): Promise<RawResponse> {
  const started = Date.now();
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      s.destroy();
      const text = finalResponse(Buffer.concat(chunks).toString('latin1'));
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : 0, text, ms: Date.now() - started });
    };
    s.on('data', (b) => {
      chunks.push(b);
      // One response is enough; keep-alive would otherwise hold the socket open.
      const t = finalResponse(Buffer.concat(chunks).toString('latin1'));
      if (/^HTTP\/1\.[01] 1\d\d/.test(t)) return;
      const head = t.indexOf('\r\n\r\n');
      const len = /\r\ncontent-length: *(\d+)/i.exec(t.slice(0, head));
      if (head >= 0 && (r.method === 'HEAD' || (len && t.length - head - 4 >= Number(len[1])))) finish();
    });
    s.on('error', finish);
    s.on('close', finish);
    s.setTimeout(timeoutMs, finish);
    const head = `${r.method} ${r.path} HTTP/1.1\r\n${r.headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
    s.write(Buffer.concat([Buffer.from(head, 'latin1'), r.body ?? Buffer.alloc(0)]));
    if (r.hangUp) setTimeout(() => s.destroy(), 20);
  });
}
