/**
 * The fuzz campaign against a live 2-node cluster (real etcd, PostgreSQL 15, `pgha run` agents as
 * the unprivileged user). Three phases: REST requests, adversarial values in every DCS key (the
 * leader lock last), broken configuration files with SIGHUP. After every batch the oracle checks:
 * both agents alive, at most one writable primary at every sample and exactly one at the end, no
 * action the batch did not legitimately request (same leader, same postmasters, same timeline,
 * /config and /failover untouched), and a healthy cluster (the replica streams again).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { Etcd3 } from 'etcd3';
import { CLI, TestCluster, type TestNode } from '../helpers/cluster.js';
import { waitFor } from '../helpers/procs.js';
import { configCases } from './config-fuzz.js';
import { FUZZED_KEYS, dcsValues } from './dcs-fuzz.js';
import { rawRequest } from './raw-http.js';
import { judge, restCase } from './rest-fuzz.js';
import { Rng } from './rng.js';

export interface Budget {
  readonly restRequests: number;
  /** Values per DCS key (each key gets this many, in batches of one value per key). */
  readonly valuesPerKey: number;
  readonly configs: number;
  /** Overwrite the leader key too (a lock steal: the leader may change, nothing else may go wrong). */
  readonly leaderKey: boolean;
  readonly seed: number;
  readonly concurrency?: number;
  readonly restBatch?: number;
}

export interface PhaseStats {
  phase: string;
  inputs: number;
  batches: number;
  accepted: Record<string, number>;
  statuses: Record<string, number>;
  problems: string[];
  seconds: number;
}

const AUTH = { username: 'admin', password: 'fuzz-secret' };
const AUTH_HEADER = 'Basic ' + Buffer.from(`${AUTH.username}:${AUTH.password}`).toString('base64');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Baseline {
  leader: string;
  pids: Record<string, number | null>;
  timeline: number;
  config: string;
}

/** Problems are collected per phase and echoed as they are found. */
class Problems extends Array<string> {
  static say: (line: string) => void = () => undefined;
  override push(...items: string[]): number {
    for (const i of items) Problems.say(`PROBLEM ${i.slice(0, 2000)}`);
    return super.push(...items);
  }
}

export class Campaign {
  private cluster!: TestCluster;
  private etcd!: Etcd3;
  readonly log: string[] = [];

  constructor(readonly budget: Budget, private readonly say: (line: string) => void = () => undefined) {
    Problems.say = say;
  }

  async start(): Promise<void> {
    this.cluster = await TestCluster.start({ nodes: 2, restapiAuth: AUTH });
    this.etcd = new Etcd3({ hosts: this.cluster.etcd.endpoints as string[] });
    await this.healthy();
  }

  async stop(): Promise<void> {
    this.etcd?.close();
    await this.cluster?.stop();
  }

  private key(k: string): string { return `/service/${this.cluster.scope}/${k}`; }

  /** Healthy: one primary streaming to a replica that runs as one (not a pg_basebackup's WAL stream). */
  private async healthy(): Promise<TestNode> {
    return waitFor(async () => {
      const leader = await this.cluster.waitHealthy(1, 120_000);
      const replica = this.cluster.nodes.find((n) => n !== leader)!;
      if (!leader.postmasterPid() || !replica.postmasterPid()) return null;
      if ((await replica.get('/replica')).status !== 200) return null;
      return leader;
    }, 120_000, 'a primary and a running, streaming replica', 500);
  }

  private async baseline(): Promise<Baseline> {
    const leader = await this.healthy();
    const rows = await leader.sql<{ t: number }>('SELECT timeline_id AS t FROM pg_control_checkpoint()');
    const pids: Record<string, number | null> = {};
    for (const n of this.cluster.nodes) pids[n.name] = n.postmasterPid();
    return { leader: leader.name, pids, timeline: Number(rows[0]!.t), config: (await this.etcd.get(this.key('config')).string()) ?? '' };
  }

  /** Writable primaries, sampled: never more than one. */
  private async samplePrimaries(problems: string[], what: string): Promise<string[]> {
    const p = await this.cluster.writablePrimaries();
    if (p.length > 1) problems.push(`${what}: ${p.length} writable primaries (${p.join(', ')})`);
    return p;
  }

  /**
   * After a batch: alive, one primary, and nothing happened that `accepted` does not explain.
   * `mayChangeLeader`/`mayRestart` widen what is legitimate (accepted switchover, restart, lock steal).
   */
  private async check(base: Baseline, problems: string[], what: string, o: { mayChangeLeader?: boolean; mayRestart?: boolean; mayChangeConfig?: boolean } = {}): Promise<void> {
    for (const n of this.cluster.nodes) {
      if (!n.agentAlive()) {
        problems.push(`${what}: agent ${n.name} died; log tail:\n${n.log().slice(-2000)}`);
        n.start(); // keep going: the rest of the campaign still says something
      }
    }
    const leader = await waitFor(async () => {
      const p = await this.samplePrimaries(problems, what);
      return p.length === 1 ? p[0] : null;
    }, 90_000, `${what}: exactly one writable primary`).catch((e: unknown) => { problems.push(String(e)); return null; });
    if (!leader) return;
    if (!o.mayChangeLeader && leader !== base.leader) problems.push(`${what}: the primary moved from ${base.leader} to ${leader} though nothing requested it`);
    const failover = await this.etcd.get(this.key('failover')).string();
    if (failover !== null && !o.mayChangeLeader) problems.push(`${what}: /failover left behind: ${failover.slice(0, 100)}`);
    if (!o.mayChangeConfig) {
      const cfg = (await this.etcd.get(this.key('config')).string()) ?? '';
      if (cfg !== base.config) problems.push(`${what}: /config changed: ${cfg.slice(0, 200)}`);
    }
    await this.healthy().catch((e: unknown) => problems.push(`${what}: not healthy again: ${String(e)}`));
    if (!o.mayRestart && !o.mayChangeLeader) {
      for (const n of this.cluster.nodes) {
        const pid = n.postmasterPid();
        if (pid !== base.pids[n.name]) problems.push(`${what}: ${n.name}'s postmaster changed (${base.pids[n.name]} -> ${pid}) though nothing requested a restart`);
      }
      const node = this.cluster.node(leader);
      const t = Number((await node.sql<{ t: number }>('SELECT timeline_id AS t FROM pg_control_checkpoint()'))[0]!.t);
      if (t !== base.timeline) problems.push(`${what}: timeline moved ${base.timeline} -> ${t}`);
    }
  }

  /** Undo what legitimately accepted requests changed, so the next batch starts from the baseline. */
  private async restore(base: Baseline): Promise<void> {
    await this.etcd.delete().key(this.key('failover'));
    const cfg = await this.etcd.get(this.key('config')).string();
    if (cfg !== base.config) await this.etcd.put(this.key('config')).value(base.config);
    await sleep(1500);
  }

  async rest(): Promise<PhaseStats> {
    const rng = new Rng(this.budget.seed);
    const st: PhaseStats = { phase: 'REST requests', inputs: 0, batches: 0, accepted: {}, statuses: {}, problems: new Problems(), seconds: 0 };
    const t0 = Date.now();
    const batchSize = this.budget.restBatch ?? 1000;
    const conc = this.budget.concurrency ?? 12;
    while (st.inputs < this.budget.restRequests) {
      const base = await this.baseline();
      const leaderIndex = this.cluster.nodes.findIndex((n) => n.name === base.leader);
      const n = Math.min(batchSize, this.budget.restRequests - st.inputs);
      const accepted = new Set<string>();
      let next = 0;
      const worker = async () => {
        while (next < n) {
          next++;
          const c = restCase(rng, this.cluster.nodes.length, AUTH_HEADER);
          const node = this.cluster.nodes[c.node < 0 ? leaderIndex : c.node]!;
          const res = await rawRequest(node.apiPort, c.req);
          st.statuses[String(res.status)] = (st.statuses[String(res.status)] ?? 0) + 1;
          const v = judge(c, res);
          if (v.problem) st.problems.push(v.problem);
          if (v.accepted) {
            accepted.add(v.accepted);
            st.accepted[v.accepted] = (st.accepted[v.accepted] ?? 0) + 1;
          }
        }
      };
      const sampler = (async () => {
        while (next < n) {
          await this.samplePrimaries(st.problems, `REST batch ${st.batches + 1}`);
          await sleep(500);
        }
      })();
      await Promise.all([...Array.from({ length: conc }, worker), sampler]);
      st.inputs += n;
      st.batches++;
      const moved = accepted.has('POST switchover') || accepted.has('POST failover');
      const restarted = moved || accepted.has('POST restart') || accepted.has('POST reinitialize');
      const configChanged = accepted.has('PATCH config') || accepted.has('PUT config');
      await sleep(2000); // let a few HA cycles react to whatever got through
      await this.check(base, st.problems, `REST batch ${st.batches}`, { mayChangeLeader: moved || configChanged, mayRestart: restarted || configChanged, mayChangeConfig: configChanged });
      await this.restore(base);
      this.say(`REST: ${st.inputs}/${this.budget.restRequests} requests, ${st.problems.length} problems`);
    }
    st.seconds = Math.round((Date.now() - t0) / 1000);
    return st;
  }

  async dcs(): Promise<PhaseStats> {
    const rng = new Rng(this.budget.seed + 1);
    const st: PhaseStats = { phase: 'DCS values', inputs: 0, batches: 0, accepted: {}, statuses: {}, problems: new Problems(), seconds: 0 };
    const t0 = Date.now();
    const base0 = await this.baseline();
    const replica = this.cluster.nodes.find((n) => n.name !== base0.leader)!.name;
    const keys = [...FUZZED_KEYS, `members/${replica}`];
    const values = new Map(keys.map((k) => [k, dcsValues(rng, k.startsWith('members/') ? 'members' : k, base0.leader, replica)]));
    for (let i = 0; i < this.budget.valuesPerKey; i++) {
      const base = await this.baseline();
      const saved = new Map<string, string | null>();
      for (const k of keys) saved.set(k, await this.etcd.get(this.key(k)).string());
      for (const k of keys) {
        const list = values.get(k)!;
        await this.etcd.put(this.key(k)).value(list[i % list.length]!);
        st.inputs++;
        st.statuses[k] = (st.statuses[k] ?? 0) + 1;
      }
      for (let s = 0; s < 6; s++) {
        await this.samplePrimaries(st.problems, `DCS batch ${i + 1}`);
        await sleep(500);
      }
      for (const k of keys) {
        const v = saved.get(k);
        if (v === null || v === undefined) await this.etcd.delete().key(this.key(k));
        else await this.etcd.put(this.key(k)).value(v);
      }
      st.batches++;
      await this.check(base, st.problems, `DCS batch ${i + 1} (${keys.map((k) => `${k}=${JSON.stringify(values.get(k)![i % values.get(k)!.length]!.slice(0, 40))}`).join(', ')})`);
      this.say(`DCS: batch ${i + 1}/${this.budget.valuesPerKey}, ${st.problems.length} problems`);
    }
    st.seconds = Math.round((Date.now() - t0) / 1000);
    return st;
  }

  /**
   * Overwrite the lock with hostile values, then delete it: the leader may change (the lock was
   * taken from it), nothing else may go wrong. Last, because a cluster that does not heal spoils
   * every later verdict.
   */
  async leaderLock(): Promise<PhaseStats> {
    const rng = new Rng(this.budget.seed + 3);
    const st: PhaseStats = { phase: 'leader lock overwritten, then deleted', inputs: 0, batches: 0, accepted: {}, statuses: {}, problems: new Problems(), seconds: 0 };
    const t0 = Date.now();
    for (const v of ['{"a":' .repeat(10_000) + '1' + '}'.repeat(10_000), 'ghost-leader', '', 'node1\nnode2', rng.text(50)]) {
      const base = await this.baseline();
      await this.etcd.put(this.key('leader')).value(v);
      st.inputs++;
      st.statuses.leader = (st.statuses.leader ?? 0) + 1;
      for (let s = 0; s < 6; s++) {
        await this.samplePrimaries(st.problems, 'leader key');
        await sleep(500);
      }
      await this.etcd.delete().key(this.key('leader'));
      st.batches++;
      const before = st.problems.length;
      await this.check(base, st.problems, `leader key = ${JSON.stringify(v.slice(0, 30))}`, { mayChangeLeader: true, mayRestart: true });
      this.say(`leader key: ${st.batches} values, ${st.problems.length} problems`);
      if (st.problems.length > before) break; // an unhealed cluster makes every later verdict meaningless
    }
    st.seconds = Math.round((Date.now() - t0) / 1000);
    return st;
  }

  async configs(): Promise<PhaseStats> {
    const st: PhaseStats = { phase: 'configuration files + SIGHUP', inputs: 0, batches: 0, accepted: {}, statuses: {}, problems: new Problems(), seconds: 0 };
    const t0 = Date.now();
    // One seeded permutation of the mutations for both nodes: node1 takes the even cases, node2 the odd ones.
    const cases = new Map(this.cluster.nodes.map((n) => [n.name, configCases(new Rng(this.budget.seed + 2), readFileSync(n.configPath, 'utf8'), this.budget.configs)]));
    const reloadOutcome = (node: TestNode, from: number, what: string) => waitFor(() => {
      const l = node.log().slice(from);
      return l.includes('reload failed') ? 'refused' : l.includes('configuration reloaded') ? 'reloaded' : null;
    }, 15_000, `${node.name} to report the reload of ${what}`);
    for (let i = 0; i < this.budget.configs; i++) {
      const base = await this.baseline();
      const node: TestNode = this.cluster.nodes[i % this.cluster.nodes.length]!;
      const good = readFileSync(node.configPath, 'utf8');
      const c = cases.get(node.name)![i]!;
      writeFileSync(node.configPath, c.text);
      const v = spawnSync(process.execPath, [CLI, 'validate-config', node.configPath], { encoding: 'utf8', env: { PATH: process.env.PATH } });
      let from = node.log().length;
      node.signalAgent('SIGHUP');
      const outcome = await reloadOutcome(node, from, `"${c.name}"`).catch((e: unknown) => { st.problems.push(String(e)); return null; });
      st.inputs++;
      st.statuses[outcome ?? 'no answer'] = (st.statuses[outcome ?? 'no answer'] ?? 0) + 1;
      if (outcome && (outcome === 'refused') !== c.expectRefused) st.problems.push(`config "${c.name}": reload ${outcome}, expected ${c.expectRefused ? 'refused' : 'reloaded'}:\n${node.log().slice(from).slice(-600)}`);
      if ((v.status !== 0) !== c.expectRefused) st.problems.push(`config "${c.name}": validate-config exited ${v.status} (disagrees with the reload): ${v.stderr.slice(0, 300)}`);
      await sleep(1500);
      writeFileSync(node.configPath, good);
      from = node.log().length;
      node.signalAgent('SIGHUP');
      const back = await reloadOutcome(node, from, 'the good configuration').catch((e: unknown) => { st.problems.push(String(e)); return null; });
      if (back !== 'reloaded') st.problems.push(`config "${c.name}": the good configuration did not reload (${back})`);
      st.batches++;
      await this.check(base, st.problems, `config "${c.name}" on ${node.name}`);
      this.say(`configs: ${i + 1}/${this.budget.configs}, ${st.problems.length} problems`);
    }
    st.seconds = Math.round((Date.now() - t0) / 1000);
    return st;
  }
}

/** The closing note's table. */
export function table(stats: readonly PhaseStats[], budget: Budget): string {
  const rows = stats.map((s) => `| ${s.phase} | ${s.inputs} | ${s.batches} | ${Object.entries(s.statuses).sort().map(([k, v]) => `${k}: ${v}`).join(', ')} | ${Object.entries(s.accepted).map(([k, v]) => `${k}: ${v}`).join(', ') || '-'} | ${s.problems.length} | ${s.seconds} s |`);
  return [`seed ${budget.seed}`, '| phase | inputs | batches | outcomes | accepted (legitimate) actions | problems | time |', '|---|---|---|---|---|---|---|', ...rows].join('\n');
}
