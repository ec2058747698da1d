/** A seeded PRNG (mulberry32) and the picks the fuzz generators need: same seed, same inputs. */
export class Rng {
  private s: number;
  constructor(readonly seed: number) { this.s = seed >>> 0; }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(lo: number, hi: number): number { return lo + Math.floor(this.next() * (hi - lo + 1)); }
  chance(p: number): boolean { return this.next() < p; }
  pick<T>(xs: readonly T[]): T { return xs[Math.floor(this.next() * xs.length)]!; }

  /** Random text from printable ASCII, with control, quote, slash and non-ASCII characters mixed in. */
  text(maxLen: number): string {
    const n = this.int(0, maxLen);
    let s = '';
    for (let i = 0; i < n; i++) {
      const r = this.next();
      s += r < 0.75 ? String.fromCharCode(this.int(32, 126))
        : r < 0.85 ? this.pick(['"', '\\', '/', '{', '[', ':', ',', '%', '\u0000', '\n', '\r'])
          : String.fromCodePoint(this.pick([0xe9, 0x2028, 0xfffd, 0x1f600, 0xd800, 0x7f, 0x85]));
    }
    return s;
  }

  /** A random JSON value of at most `depth` levels. */
  json(depth: number, keys: readonly string[] = []): unknown {
    const r = this.next();
    if (depth <= 0 || r < 0.45) {
      return this.pick<() => unknown>([
        () => null, () => true, () => false, () => this.int(-1e6, 1e6), () => this.pick([0, -1, 1e308, -1e308, 2 ** 53 + 1, 0.5, 65536, 70000]),
        () => this.text(20), () => '', () => this.pick(['true', 'on', 'off', '1', '2099-13-45T99:99:99Z', 'node1', 'node2', '__proto__']),
      ])();
    }
    if (r < 0.7) return Array.from({ length: this.int(0, 4) }, () => this.json(depth - 1, keys));
    const o: Record<string, unknown> = {};
    for (let i = this.int(0, 5); i > 0; i--) {
      const k = keys.length && this.chance(0.7) ? this.pick(keys) : this.text(8);
      Object.defineProperty(o, k, { value: this.json(depth - 1, keys), enumerable: true, writable: true, configurable: true });
    }
    return o;
  }
}

/** `{"a":` nested `n` levels (what killed the agents on 749de2d). */
export const deepObject = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
export const deepArray = (n: number) => '['.repeat(n) + ']'.repeat(n);
