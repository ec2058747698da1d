/**
 * The primary's side of failsafe mode: `POST /failsafe` to every other member of the `/failsafe`
 * topology, in parallel, 2 s timeout and one retry each (Patroni's check_failsafe_topology). A
 * member accepts only with `200` and the body `Accepted`; it may report its WAL position in the
 * `lsn` header.
 */
import type { HttpClient } from '../di.js';
import {
  FAILSAFE_REQUEST_RETRIES, FAILSAFE_REQUEST_TIMEOUT_MS, FailsafeMemory, failsafeConsent, failsafePeers, failsafeTopology, parseFailsafePing, withFailsafeLeader,
  type FailsafeAnswer, type FailsafePing,
} from '../ha/failsafe.js';
import type { Cluster } from '../model/cluster.js';
import { remoteMember, remoteReplicaMethods } from '../ha/standby-source.js';
import type { PostgresPort } from './postgres-port.js';
import type { Logger } from '../log.js';
import type { Verdict } from '../ha/types.js';

/** POST /failsafe on one member; its `api_url` ends in /patroni like Patroni's, the endpoint replaces it. */
export async function askMember(http: HttpClient, name: string, apiUrl: string, ping: FailsafePing, logger: Logger): Promise<FailsafeAnswer> {
  let url: URL;
  try {
    url = new URL('failsafe', apiUrl.endsWith('/') ? apiUrl : apiUrl.replace(/[^/]*$/, ''));
  } catch {
    logger.warn(`failsafe: ${name} has no usable api_url (${apiUrl})`);
    return { name, accepted: false, lsn: null };
  }
  for (let attempt = 0; attempt <= FAILSAFE_REQUEST_RETRIES; attempt++) {
    try {
      const res = await http(url, {
        method: 'POST', body: JSON.stringify(ping), headers: { 'content-type': 'application/json' },
        signal: AbortSignal.timeout(FAILSAFE_REQUEST_TIMEOUT_MS),
      });
      const text = await res.text();
      logger.info(`Got response from ${name} ${url.href}: ${text.slice(0, 200)}`);
      const lsn = Number(res.headers.get('lsn'));
      return { name, accepted: res.status === 200 && text === 'Accepted', lsn: Number.isSafeInteger(lsn) && lsn > 0 ? lsn : null };
    } catch (e) {
      logger.warn(`Request failed to ${name}: POST ${url.href} (${e instanceof Error ? e.message : String(e)})`);
    }
  }
  return { name, accepted: false, lsn: null };
}

/**
 * Ask every member of `topology` but `me`. Not ok when the topology is unusable or does not list
 * me (Patroni gives up at once then), or when any member did not accept.
 */
export async function confirmWithPeers(http: HttpClient, me: string, topology: unknown, ping: FailsafePing, logger: Logger): Promise<Verdict> {
  const peers = failsafePeers(topology, me);
  if (!peers) return { ok: false, reason: `failsafe: the /failsafe topology does not list ${me}` };
  const answers = await Promise.all(peers.map((p) => askMember(http, p.name, p.url, ping, logger)));
  return failsafeConsent(peers, answers);
}

export interface FailsafeSideDeps {
  readonly name: string;
  readonly http: HttpClient;
  readonly logger: Logger;
  readonly monotonic: () => number;
  readonly ttl: () => number;
  /** This member's conn_url and api_url as it publishes them. */
  readonly urls: () => { connUrl: string; apiUrl: string };
  /** The last known `/failsafe` value (it survives the DCS outage). */
  readonly topology: () => unknown;
  readonly pg: PostgresPort;
  readonly lastWal: () => number | null;
  /** Confirmed: the lock holder's bookkeeping (REST leader checks) and the fence's deadline. */
  readonly onConfirmed: (sentAt: number) => Promise<void>;
}

/** Both sides of failsafe mode for one agent: asking the peers (primary) and answering (replica). */
export class FailsafeSide {
  private readonly memory = new FailsafeMemory();
  constructor(private readonly d: FailsafeSideDeps) {}

  /** An unlocked view with the primary that pinged us within ttl as its leader. */
  view(cluster: Cluster): Cluster {
    return withFailsafeLeader(cluster, this.memory.leader(this.d.monotonic(), this.d.ttl()), this.d.name);
  }

  active(): boolean { return this.memory.active(this.d.monotonic(), this.d.ttl()); }

  /** The executor's hooks for this cycle: the standby_cluster source, the `/failsafe` value to publish, the confirmation round. */
  executorHooks(c: () => { readonly failsafeMode: boolean; readonly standbyCluster: Readonly<Record<string, unknown>> | null }, cluster: Cluster | null) {
    return {
      remoteSource: () => remoteMember(c().standbyCluster),
      remoteReplicaMethods: () => remoteReplicaMethods(c().standbyCluster),
      failsafeTopology: () => (c().failsafeMode && cluster ? failsafeTopology(cluster, this.d.name, this.d.urls().apiUrl) : null),
      confirmFailsafe: () => this.confirm(),
    };
  }
  reset(): void { this.memory.reset(); }

  /** The primary's round of POST /failsafe; the fence is extended only when every member accepted. */
  async confirm(): Promise<boolean> {
    const sentAt = this.d.monotonic();
    const urls = this.d.urls();
    const verdict = await confirmWithPeers(this.d.http, this.d.name, this.d.topology(), { name: this.d.name, conn_url: urls.connUrl, api_url: urls.apiUrl }, this.d.logger);
    if (!verdict.ok) {
      this.d.logger.warn(verdict.reason);
      this.memory.reset();
      return false;
    }
    this.memory.confirmedAsPrimary(sentAt, this.d.ttl());
    await this.d.onConfirmed(sentAt);
    return true;
  }

  /** POST /failsafe from the primary: accept (remembered for ttl) unless we run as a primary ourselves. */
  async accept(data: Record<string, unknown>): Promise<string | number> {
    const ping = parseFailsafePing(data);
    if (typeof ping === 'string') return ping;
    const facts = await this.d.pg.facts().catch(() => null);
    if (facts?.running && facts.inRecovery === false) return 'Running as a leader';
    this.memory.update(ping, this.d.monotonic());
    return this.d.lastWal() ?? (await this.d.pg.lastLsn().catch(() => null)) ?? 'Accepted';
  }
}
