/**
 * The hand-written LeaseKeepAlive codec against protobufjs reading etcd's own rpc.proto (the
 * library the etcd3 client uses): what one encodes the other decodes, int64s beyond 2^53
 * included; unknown fields are skipped; broken frames are errors.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { decodeKeepAliveResponse, encodeKeepAliveRequest, GrpcMessageReader, MAX_MESSAGE_BYTES } from './lease-wire.js';

const protoDir = join(dirname(createRequire(import.meta.url).resolve('etcd3/package.json')), 'proto');
const root = new protobuf.Root();
root.resolvePath = (_origin, target) => join(protoDir, target.replace(/^\.\//, ''));
root.loadSync('rpc.proto', { keepCase: true });
const Request = root.lookupType('etcdserverpb.LeaseKeepAliveRequest');
const Response = root.lookupType('etcdserverpb.LeaseKeepAliveResponse');

const frame = (body: Uint8Array) => {
  const f = Buffer.alloc(5 + body.length);
  f.writeUInt32BE(body.length, 1);
  f.set(body, 5);
  return f;
};
const answer = (fields: Record<string, unknown>) => Buffer.from(Response.encode(Response.fromObject(fields)).finish());

describe('LeaseKeepAlive on the wire', () => {
  it.each(['1', '7587883262515520132', '9223372036854775807'])('the request for lease %s is what protobufjs reads', (id) => {
    const f = encodeKeepAliveRequest(id);
    expect(f[0]).toBe(0);
    expect(f.readUInt32BE(1)).toBe(f.length - 5);
    const decoded = Request.toObject(Request.decode(f.subarray(5)), { longs: String });
    expect(decoded.ID).toBe(id);
  });

  it('reads the id, TTL and header revision of an answer, int64s exactly', () => {
    const msg = answer({ header: { cluster_id: '14841639068965178418', member_id: '10276657743932975437', revision: '123456789012', raft_term: '5' }, ID: '7587883262515520132', TTL: '20' });
    expect(decodeKeepAliveResponse(msg)).toEqual({ id: '7587883262515520132', ttl: 20, revision: 123456789012 });
  });

  it('an expired lease answers TTL 0 (protobuf leaves the field out), and a missing header is revision 0', () => {
    expect(decodeKeepAliveResponse(answer({ ID: '42' }))).toEqual({ id: '42', ttl: 0, revision: 0 });
  });

  it('skips fields it does not know, of every wire type', () => {
    const known = answer({ header: { revision: '12' }, ID: '42', TTL: '30' });
    const unknown = Buffer.from([
      (9 << 3) | 0, 0x96, 0x01, // varint
      (10 << 3) | 1, 1, 2, 3, 4, 5, 6, 7, 8, // 64-bit
      (11 << 3) | 2, 3, 0x61, 0x62, 0x63, // length-delimited
      (12 << 3) | 5, 1, 2, 3, 4, // 32-bit
    ]);
    expect(decodeKeepAliveResponse(Buffer.concat([unknown, known]))).toEqual({ id: '42', ttl: 30, revision: 12 });
  });

  it('a truncated message or a varint of more than 10 bytes is an error, not a guess', () => {
    const msg = answer({ header: { revision: '12' }, ID: '7587883262515520132', TTL: '30' });
    expect(() => decodeKeepAliveResponse(msg.subarray(0, msg.length - 1))).toThrow(/truncated/);
    expect(() => decodeKeepAliveResponse(Buffer.from([0x10, ...Array(11).fill(0xff)]))).toThrow(/longer than 10 bytes/);
    expect(() => decodeKeepAliveResponse(Buffer.from([(3 << 3) | 3]))).toThrow(/wire type 3/);
  });

  it('the reader joins a message split across chunks and splits several in one chunk', () => {
    const a = frame(answer({ ID: '1', TTL: '10' }));
    const b = frame(answer({ ID: '2', TTL: '20' }));
    const reader = new GrpcMessageReader();
    const all = Buffer.concat([a, b]);
    const seen: string[] = [];
    for (const chunk of [all.subarray(0, 3), all.subarray(3, a.length + 2), all.subarray(a.length + 2)]) {
      for (const m of reader.push(chunk)) seen.push(decodeKeepAliveResponse(m).id);
    }
    expect(seen).toEqual(['1', '2']);
    expect(new GrpcMessageReader().push(all).map((m) => decodeKeepAliveResponse(m).ttl)).toEqual([10, 20]);
  });

  it('refuses a compressed message and one larger than the bound', () => {
    const compressed = frame(answer({ ID: '1' }));
    compressed[0] = 1;
    expect(() => new GrpcMessageReader().push(compressed)).toThrow(/compression/);
    const huge = Buffer.alloc(5);
    huge.writeUInt32BE(MAX_MESSAGE_BYTES + 1, 1);
    expect(() => new GrpcMessageReader().push(huge)).toThrow(/exceeds/);
  });
});
