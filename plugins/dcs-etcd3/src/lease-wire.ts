/**
 * etcd's LeaseKeepAlive messages on the wire, written and read by hand: the request is one int64
 * field, and the answer needs three numbers. The generic path (grpc-js call layers, protobufjs with
 * int64s as Long objects turned into decimal strings) cost a leader about twice the CPU per renewal
 * (keepalive-stream.ts says where that matters).
 *
 * gRPC frames each message as 1 flag byte (compressed or not), a 4-byte big-endian length, then
 * the protobuf bytes (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md).
 * The protobuf definitions are etcd's api/etcdserverpb/rpc.proto:
 *   LeaseKeepAliveRequest  { int64 ID = 1; }
 *   LeaseKeepAliveResponse { ResponseHeader header = 1; int64 ID = 2; int64 TTL = 3; }
 *   ResponseHeader         { uint64 cluster_id = 1; uint64 member_id = 2; int64 revision = 3; uint64 raft_term = 4; }
 * Unknown fields are skipped, as protobuf requires; anything malformed is an error, never a guess.
 */

/** An answer is a few dozen bytes; a larger frame is not etcd speaking the protocol. */
export const MAX_MESSAGE_BYTES = 64 * 1024;

export interface KeepAliveAnswer {
  /** The lease id, as a decimal string (the form the etcd3 client uses). */
  readonly id: string;
  /** The TTL granted in seconds; 0 when the lease does not exist. */
  readonly ttl: number;
  /** header.revision: the store revision of the member that answered (0 when absent). */
  readonly revision: number;
}

/** The framed LeaseKeepAliveRequest for lease `id` (a decimal int64). */
export function encodeKeepAliveRequest(id: string): Buffer {
  let v = BigInt.asUintN(64, BigInt(id));
  const body: number[] = [0x08]; // field 1, varint
  while (v >= 0x80n) {
    body.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  body.push(Number(v));
  const frame = Buffer.alloc(5 + body.length);
  frame.writeUInt32BE(body.length, 1);
  frame.set(body, 5);
  return frame;
}

/** Splits a byte stream into gRPC messages; chunks may hold part of one or several. */
export class GrpcMessageReader {
  private pending: Buffer = Buffer.alloc(0);

  /** The messages completed by `chunk`; throws when the stream is not uncompressed gRPC of sane size. */
  push(chunk: Buffer): Buffer[] {
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: Buffer[] = [];
    while (buf.length >= 5) {
      if (buf[0] !== 0) throw new Error(`lease keepalive: unexpected message flag ${buf[0]} (compression was not asked for)`);
      const len = buf.readUInt32BE(1);
      if (len > MAX_MESSAGE_BYTES) throw new Error(`lease keepalive: a ${len}-byte message exceeds ${MAX_MESSAGE_BYTES} bytes`);
      if (buf.length < 5 + len) break;
      out.push(buf.subarray(5, 5 + len));
      buf = buf.subarray(5 + len);
    }
    this.pending = buf.length ? Buffer.from(buf) : Buffer.alloc(0);
    return out;
  }
}

/** Reads protobuf fields one at a time. */
class FieldReader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}

  get done(): boolean { return this.pos >= this.buf.length; }

  /** The next field's number and wire type. */
  tag(): { field: number; wire: number } {
    const t = this.varint();
    return { field: Number(t >> 3n), wire: Number(t & 7n) };
  }

  varint(): bigint {
    let v = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.pos >= this.buf.length) throw new Error('lease keepalive: truncated varint');
      const b = this.buf[this.pos++]!;
      v |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return BigInt.asUintN(64, v);
    }
    throw new Error('lease keepalive: varint longer than 10 bytes');
  }

  bytes(): Buffer {
    const len = Number(this.varint());
    if (this.pos + len > this.buf.length) throw new Error('lease keepalive: truncated field');
    const b = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return b;
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 2) this.bytes();
    else if (wire === 1 || wire === 5) {
      this.pos += wire === 1 ? 8 : 4;
      if (this.pos > this.buf.length) throw new Error('lease keepalive: truncated field');
    } else throw new Error(`lease keepalive: unsupported wire type ${wire}`);
  }
}

const int64 = (v: bigint) => BigInt.asIntN(64, v);

/** Decode one LeaseKeepAliveResponse message (without its 5-byte frame prefix). */
export function decodeKeepAliveResponse(msg: Buffer): KeepAliveAnswer {
  const r = new FieldReader(msg);
  let id = 0n;
  let ttl = 0n;
  let revision = 0n;
  while (!r.done) {
    const { field, wire } = r.tag();
    if (field === 1 && wire === 2) {
      const h = new FieldReader(r.bytes());
      while (!h.done) {
        const t = h.tag();
        if (t.field === 3 && t.wire === 0) revision = int64(h.varint());
        else h.skip(t.wire);
      }
    } else if (field === 2 && wire === 0) id = int64(r.varint());
    else if (field === 3 && wire === 0) ttl = int64(r.varint());
    else r.skip(wire);
  }
  return { id: String(id), ttl: Number(ttl), revision: Number(revision) };
}
