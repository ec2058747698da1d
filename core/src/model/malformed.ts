/**
 * Malformed values read from the DCS (or the dynamic configuration) are reported, not thrown: the
 * model parses tolerantly (defaults, or the agent keeps its last good value) and says what it skipped.
 * Values are re-read every cycle, so each key's complaint is logged once until it changes or the
 * value becomes good again. The agent installs the sink; without one, reports are dropped (tests, ctl).
 */
import { parseJsonBounded, type JsonLimits } from '../util/json.js';

export type MalformedSink = (key: string, reason: string) => void;

let sink: MalformedSink | null = null;
const lastReported = new Map<string, string>();
const MAX_KEYS = 1000;

/** Install (or with null remove) the process-wide sink; clears what was already reported. */
export function setMalformedSink(fn: MalformedSink | null): void {
  sink = fn;
  lastReported.clear();
}

/** Report `key` as malformed; repeated identical reports are dropped. */
export function reportMalformed(key: string, reason: string): void {
  if (lastReported.get(key) === reason) return;
  if (lastReported.size >= MAX_KEYS) lastReported.clear();
  lastReported.set(key, reason);
  try {
    sink?.(key, reason);
  } catch {
    // a failing log sink must not turn a tolerated value into a crash
  }
}

/** The value of `key` is fine again: a later problem is reported anew. */
export function clearMalformed(key: string): void {
  lastReported.delete(key);
}

/** Bounded parse of a DCS value; undefined (and a report) when it is outside the bounds or not JSON. */
export function parseStoredJson(key: string, text: string, limits?: JsonLimits): unknown {
  const r = parseJsonBounded(text, limits);
  if (r.ok) return r.value;
  reportMalformed(key, r.reason);
  return undefined;
}

/** Keep a short printable excerpt of a hostile value for a log line. */
export function excerpt(value: unknown, max = 60): string {
  const s = typeof value === 'string' ? value : (() => { try { return JSON.stringify(value) ?? String(value); } catch { return '<unprintable>'; } })();
  const clean = s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return clean.length > max ? `${clean.slice(0, max)}… (${s.length} chars)` : clean;
}
