/**
 * The emulator's local agent: registered services and their checks, TTL checks (critical when not
 * updated in time) and HTTP checks (really polled: 2xx passing, 429 warning, anything else critical),
 * as Consul's agent runs them. Check state lives in ConsulState so sessions can depend on checks.
 */
import { parseDuration } from './duration.js';
import type { CheckEntry, CheckStatus, ConsulState } from './state.js';

export interface ServiceEntry {
  ID: string;
  Service: string;
  Tags: string[];
  Address: string;
  Port: number;
  Meta: Record<string, string>;
  EnableTagOverride: boolean;
}

export interface CheckDefinition {
  ID?: string;
  CheckID?: string;
  Name?: string;
  Notes?: string;
  TTL?: string;
  HTTP?: string;
  Interval?: string;
  Timeout?: string;
  Status?: string;
  TLSServerName?: string;
  DeregisterCriticalServiceAfter?: string;
}

/** Go's JSON decoding matches field names case-insensitively; so do we. */
export function field<T = unknown>(o: Record<string, unknown>, name: string): T | undefined {
  const k = Object.keys(o).find((x) => x.toLowerCase() === name.toLowerCase());
  return k === undefined ? undefined : (o[k] as T);
}

export class LocalAgent {
  readonly services = new Map<string, ServiceEntry>();
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly state: ConsulState) {}

  registerService(body: Record<string, unknown>): void {
    const name = field<string>(body, 'Name');
    if (!name) throw new Error('Missing service name');
    const id = field<string>(body, 'ID') || name;
    const entry: ServiceEntry = {
      ID: id, Service: name, Tags: field<string[]>(body, 'Tags') ?? [], Address: field<string>(body, 'Address') ?? '',
      Port: Number(field(body, 'Port') ?? 0), Meta: field<Record<string, string>>(body, 'Meta') ?? {},
      EnableTagOverride: !!field(body, 'EnableTagOverride'),
    };
    this.services.set(id, entry);
    const single = field<Record<string, unknown>>(body, 'Check');
    const many = field<Array<Record<string, unknown>>>(body, 'Checks') ?? [];
    const defs = [...(single && Object.keys(single).length ? [single] : []), ...many];
    defs.forEach((d, i) => {
      const checkId = field<string>(d, 'CheckID') || field<string>(d, 'ID') || (defs.length === 1 ? `service:${id}` : `service:${id}:${i + 1}`);
      this.registerCheck({ ...d, CheckID: checkId, Name: field<string>(d, 'Name') || `Service '${name}' check` }, entry);
    });
    this.state.catalogIndex = ++this.state.index;
    this.state.changes.emit('change');
  }

  deregisterService(id: string): boolean {
    if (!this.services.delete(id)) return false;
    for (const c of [...this.state.checks.values()]) if (c.ServiceID === id) this.deregisterCheck(c.CheckID);
    this.state.catalogIndex = ++this.state.index;
    this.state.changes.emit('change');
    return true;
  }

  registerCheck(raw: Record<string, unknown>, service?: ServiceEntry): void {
    const def: CheckDefinition = {
      CheckID: field(raw, 'CheckID') || field(raw, 'ID') || field(raw, 'Name'), Name: field(raw, 'Name'), Notes: field(raw, 'Notes'),
      TTL: field(raw, 'TTL'), HTTP: field(raw, 'HTTP'), Interval: field(raw, 'Interval'), Timeout: field(raw, 'Timeout'), Status: field(raw, 'Status'),
    };
    if (!def.CheckID) throw new Error('Missing check name');
    const ttlMs = def.TTL ? parseDuration(def.TTL) : null;
    const intervalMs = def.Interval ? parseDuration(def.Interval) : null;
    if (!def.TTL && !def.HTTP) throw new Error('Invalid check: one of TTL or HTTP is required by this emulator');
    if (def.TTL && !ttlMs) throw new Error(`Invalid check TTL '${def.TTL}'`);
    if (def.HTTP && !intervalMs) throw new Error(`Invalid check interval '${def.Interval ?? ''}'`);
    const serviceId = service?.ID ?? field<string>(raw, 'ServiceID') ?? '';
    const status = (['passing', 'warning', 'critical'] as const).includes(def.Status as CheckStatus) ? (def.Status as CheckStatus) : 'critical';
    const entry: CheckEntry = {
      CheckID: def.CheckID, Name: def.Name ?? def.CheckID, Status: status, Notes: def.Notes ?? '', Output: '',
      ServiceID: serviceId, ServiceName: service?.Service ?? this.services.get(serviceId)?.Service ?? '', Type: def.TTL ? 'ttl' : 'http',
      Definition: Object.fromEntries(Object.entries({
        HTTP: def.HTTP, TTL: def.TTL, Interval: def.Interval, Timeout: def.Timeout,
        TLSServerName: field(raw, 'TLSServerName'), DeregisterCriticalServiceAfter: field(raw, 'DeregisterCriticalServiceAfter'),
      }).filter(([, v]) => v !== undefined)),
    };
    this.stopTimer(def.CheckID);
    this.state.setCheck(entry);
    if (ttlMs) this.armTtl(def.CheckID, ttlMs);
    if (def.HTTP && intervalMs) this.pollHttp(def.CheckID, def.HTTP, intervalMs, def.Timeout ? parseDuration(def.Timeout) ?? 10_000 : 10_000);
  }

  deregisterCheck(id: string): boolean {
    this.stopTimer(id);
    return this.state.removeCheck(id);
  }

  /** pass/warn/fail/update of a TTL check: sets the status and restarts its TTL. */
  updateTtlCheck(id: string, status: CheckStatus, output: string): boolean {
    const c = this.state.checks.get(id);
    if (!c || c.Type !== 'ttl') return false;
    this.state.updateCheck(id, status, output);
    const ttl = this.ttls.get(id);
    if (ttl) this.armTtl(id, ttl);
    return true;
  }

  private readonly ttls = new Map<string, number>();

  private armTtl(id: string, ttlMs: number): void {
    this.ttls.set(id, ttlMs);
    clearTimeout(this.timers.get(id));
    const t = setTimeout(() => this.state.updateCheck(id, 'critical', `TTL expired`), ttlMs);
    t.unref();
    this.timers.set(id, t);
  }

  private pollHttp(id: string, url: string, intervalMs: number, timeoutMs: number): void {
    const run = async () => {
      let status: CheckStatus = 'critical';
      let output = '';
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
        status = res.status >= 200 && res.status < 300 ? 'passing' : res.status === 429 ? 'warning' : 'critical';
        output = `HTTP GET ${url}: ${res.status} ${res.statusText}`;
        await res.body?.cancel();
      } catch (e) {
        output = `Get "${url}": ${e instanceof Error ? e.message : String(e)}`;
      }
      if (this.timers.has(id)) this.state.updateCheck(id, status, output);
    };
    const t = setInterval(() => void run(), intervalMs);
    t.unref();
    this.timers.set(id, t);
    void run();
  }

  private stopTimer(id: string): void {
    const t = this.timers.get(id);
    if (t) {
      clearTimeout(t);
      clearInterval(t);
    }
    this.timers.delete(id);
    this.ttls.delete(id);
  }

  close(): void {
    for (const id of [...this.timers.keys()]) this.stopTimer(id);
  }
}
