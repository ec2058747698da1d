/** Byte-level key helpers: the cluster prefix `/<namespace>/<scope>/` and ranges over it. */

/** `[key, range_end)` covering every key that starts with `prefix` (etcd's prefix convention). */
export function prefixRange(prefix: string): { key: Buffer; range_end: Buffer } {
  const key = Buffer.from(prefix);
  const end = Buffer.from(key);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return { key, range_end: end.subarray(0, i + 1) };
    }
  }
  // All 0xff: etcd's "to the end of the keyspace".
  return { key, range_end: Buffer.from([0]) };
}
