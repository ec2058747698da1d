/**
 * The Kubernetes DcsDriver: Patroni's model (see model.ts) over the core/v1 API. Every conditional
 * write is a PATCH carrying metadata.resourceVersion (the API server's compare-and-swap: 409 = lost,
 * returned as false) or a POST (409 AlreadyExists = lost). Leader expiry is judged from when this
 * client saw the leader record change, as Patroni does; a watch on the leader object wakes followers.
 */
import { sleep, type DcsContext, type DcsDriver, type DcsNode, type Leader, type Version } from '@pgha/core';
import { ConflictError, NotFoundError, MERGE_PATCH, type K8sClient, type K8sObject } from './client.js';
import { labelSelector, type KubernetesSettings } from './config.js';
import { ObjectStore } from './objects.js';
import {
  LEADER_RECORD_KEYS, MEMBER_RENEW_ANNOTATION, RecordObserver, annotationsOf, failoverAnnotations, leaderRecord, uniqueIsoTime, objectNames,
  recordTtl, roleLabels, statusAnnotations, syncAnnotations, toNodes, type ObjectNames,
} from './model.js';

type Annotations = Record<string, string | null>;

export class KubernetesDriver implements DcsDriver {
  private _ttl: number;
  private retryMs: number;
  private readonly names: ObjectNames;
  private readonly objects: ObjectStore;
  private readonly observer = new RecordObserver();
  /** performance.now() at which the PATCH/POST that last wrote my leader record was first sent. */
  private leaseSentAt: number | null = null;
  private lastListRv: string | null = null;
  private closed = false;

  constructor(private readonly ctx: DcsContext, private readonly s: KubernetesSettings, private readonly api: K8sClient) {
    this._ttl = ctx.ttl;
    this.retryMs = ctx.retryTimeout * 1000;
    this.names = objectNames(ctx.scope, s.useEndpoints);
    this.objects = new ObjectStore(api, s, ctx.scope, ctx.name);
  }

  get ttl(): number { return this._ttl; }
  setTtl(ttl: number): void { this._ttl = ttl; }
  setRetryTimeout(retryTimeout: number): void { this.retryMs = retryTimeout * 1000; }
  private deadline(): number { return performance.now() + this.retryMs; }

  /**
   * The send instant T of the write that last renewed my leader record: every other member saw that
   * change after T, so none judges it expired before T + ttl. Null when I hold no leader record.
   */
  leaderLeaseSentAt(): number | null { return this.leaseSentAt; }

  async loadCluster(): Promise<DcsNode[]> {
    const loaded = await this.objects.load(this.deadline());
    this.lastListRv = loaded.kindsRv;
    const now = performance.now();
    const leaderObj = loaded.kinds.get(this.names.leader) ?? null;
    const leader = this.judgeLeader(leaderObj, now);
    if (this.leaseSentAt !== null && leader !== this.ctx.name) this.leaseSentAt = null;
    const livePods = new Set<string>();
    for (const pod of loaded.pods) {
      const a = annotationsOf(pod);
      if (a.status === undefined) continue;
      const name = String(pod.metadata.name);
      const beat = a[MEMBER_RENEW_ANNOTATION];
      // Patroni members carry no heartbeat: like Patroni, they count while their Pod exists.
      if (beat !== undefined && this.observer.observe(`pod/${name}`, beat, now) + this._ttl * 1000 < now) continue;
      livePods.add(name);
    }
    return toNodes(this.names, loaded, { leader, livePods });
  }

  /** The leader annotation if its record is younger than its ttl by our own observation, else null. */
  private judgeLeader(o: K8sObject | null, now: number): string | null {
    if (!o) {
      this.observer.forget('leader');
      return null;
    }
    const seen = this.observer.observe('leader', leaderRecord(o), now);
    const name = annotationsOf(o).leader;
    if (!name) return null;
    return seen + recordTtl(o, this._ttl) * 1000 >= now ? name : null;
  }

  /** The leader object fresh from the API (null if absent), noted for expiry. */
  private async readLeader(deadline: number): Promise<K8sObject | null> {
    const o = await this.objects.read(this.names.leader, deadline);
    this.judgeLeader(o, performance.now());
    return o;
  }

  /** Patroni's leader record: transitions count holder changes; acquireTime survives my renewals. */
  private leaderAnnotations(prev: K8sObject | null, acquiring: boolean): Annotations {
    const now = uniqueIsoTime();
    const a = annotationsOf(prev);
    let transitions = 0;
    let acquireTime = now;
    if (LEADER_RECORD_KEYS.some((k) => k in a)) {
      transitions = Number.parseInt(a.transitions ?? '', 10) || 0;
      if (acquiring && a.leader !== this.ctx.name) transitions += 1;
      else acquireTime = a.acquireTime || now;
    }
    return { leader: this.ctx.name, ttl: String(this._ttl), renewTime: now, acquireTime, transitions: String(transitions) };
  }

  /** Write my leader record (create or CAS on `prev`); T is taken before the first send. */
  private async writeLeader(prev: K8sObject | null, annotations: Annotations, deadline: number, subsetsIp: string[] | null): Promise<boolean> {
    let sentAt: number | null = null;
    const onSend = (at: number) => { sentAt ??= at; };
    try {
      const res = prev
        ? await this.objects.patch(this.names.leader, annotations, String(prev.metadata.resourceVersion), deadline, subsetsIp, onSend)
        : await this.objects.create(this.names.leader, annotations, deadline, subsetsIp, onSend);
      this.leaseSentAt = sentAt;
      this.observer.observe('leader', leaderRecord(res), performance.now());
      return true;
    } catch (e) {
      if (!(e instanceof ConflictError || e instanceof NotFoundError)) throw e;
    }
    // A 409 may answer our own retry of a write whose first answer was lost: if the object holds
    // exactly the record we sent, it is ours (Patroni 4 checks the same), measured from the first send.
    if (sentAt === null || deadline - performance.now() < 200) return false;
    const now = await this.readLeader(deadline);
    const a = annotationsOf(now);
    if (a.leader !== this.ctx.name || a.renewTime !== annotations.renewTime) return false;
    this.leaseSentAt = sentAt;
    return true;
  }

  async attemptToAcquireLeader(): Promise<boolean> {
    if (this.ctx.ctl) return false;
    const deadline = this.deadline();
    const cur = await this.readLeader(deadline);
    const holder = this.judgeLeader(cur, performance.now());
    if (holder && holder !== this.ctx.name) return false;
    const ok = await this.writeLeader(cur, this.leaderAnnotations(cur, true), deadline, [this.s.podIp]);
    if (!ok) this.leaseSentAt = null;
    return ok;
  }

  async updateLeader(_leader: Leader): Promise<boolean> {
    if (this.ctx.ctl) return false;
    const deadline = this.deadline();
    let cur = this.objects.cached(this.names.leader) ?? (await this.readLeader(deadline));
    for (let attempt = 0; attempt < 2; attempt++) {
      if (!cur || annotationsOf(cur).leader !== this.ctx.name) break;
      if (await this.writeLeader(cur, this.leaderAnnotations(cur, false), deadline, [this.s.podIp])) return true;
      // Conflict: someone changed the object. Still mine (an annotation someone else added)? Try once more.
      if (deadline - performance.now() < 500) break;
      cur = await this.readLeader(deadline);
    }
    this.leaseSentAt = null;
    return false;
  }

  async deleteLeader(_leader: Leader | null): Promise<boolean> {
    const deadline = this.deadline();
    let cur = this.objects.cached(this.names.leader) ?? (await this.readLeader(deadline));
    for (let attempt = 0; attempt < 2; attempt++) {
      if (!cur || annotationsOf(cur).leader !== this.ctx.name) return false;
      try {
        await this.objects.patch(this.names.leader, { leader: null }, String(cur.metadata.resourceVersion), deadline, []);
        this.leaseSentAt = null;
        return true;
      } catch (e) {
        if (!(e instanceof ConflictError)) {
          if (e instanceof NotFoundError) return false;
          throw e;
        }
      }
      cur = await this.readLeader(deadline);
    }
    return false;
  }

  async takeLeader(): Promise<boolean> {
    if (this.ctx.ctl) return false;
    const deadline = this.deadline();
    const cur = await this.readLeader(deadline);
    return this.writeLeader(cur, this.leaderAnnotations(cur, true), deadline, [this.s.podIp]);
  }

  async initialize(createNew: boolean, sysid: string): Promise<boolean> {
    const deadline = this.deadline();
    if (!createNew) return this.objects.upsert(this.names.config, { initialize: sysid }, deadline);
    const cur = await this.objects.read(this.names.config, deadline);
    if (cur && annotationsOf(cur).initialize !== undefined) return false;
    return this.casOrCreate(this.names.config, { initialize: sysid }, cur, deadline);
  }

  /** PATCH conditioned on `cur`'s resourceVersion, or POST when there is no object: false when lost. */
  private async casOrCreate(name: string, annotations: Annotations, cur: K8sObject | null, deadline: number): Promise<boolean> {
    try {
      if (cur) await this.objects.patch(name, annotations, String(cur.metadata.resourceVersion), deadline);
      else await this.objects.create(name, annotations, deadline);
      return true;
    } catch (e) {
      if (e instanceof ConflictError || e instanceof NotFoundError) return false;
      throw e;
    }
  }

  async cancelInitialization(): Promise<boolean> {
    try {
      await this.objects.patch(this.names.config, { initialize: null }, null, this.deadline());
      return true;
    } catch (e) {
      if (e instanceof NotFoundError) return true;
      throw e;
    }
  }

  async touchMember(data: Record<string, unknown>): Promise<boolean> {
    if (this.ctx.ctl) return false;
    const isLeader = this.leaseSentAt !== null;
    const body = {
      metadata: {
        labels: roleLabels(data, isLeader, this.s),
        annotations: { status: JSON.stringify(data), [MEMBER_RENEW_ANNOTATION]: uniqueIsoTime() },
      },
    };
    try {
      await this.api.call('PATCH', this.objects.podPath(this.ctx.name), this.deadline(), body, MERGE_PATCH);
      return true;
    } catch (e) {
      // No Pod of that name: the member name must be the Pod's name (Patroni: PATRONI_NAME from metadata.name).
      if (e instanceof NotFoundError || e instanceof ConflictError) return false;
      throw e;
    }
  }

  /** Version given: CAS on the object's resourceVersion; absent: create or overwrite. */
  private async write(name: string, annotations: Annotations, version?: Version | null): Promise<K8sObject | false> {
    const deadline = this.deadline();
    if (version === undefined || version === null) {
      return this.objects.upsertObject(name, annotations, deadline);
    }
    try {
      return await this.objects.patch(name, annotations, String(version), deadline);
    } catch (e) {
      if (e instanceof ConflictError || e instanceof NotFoundError) return false;
      throw e;
    }
  }

  async setConfigValue(value: string, version?: Version | null): Promise<boolean> {
    return (await this.write(this.names.config, { config: value }, version)) !== false;
  }

  async setFailoverValue(value: string, version?: Version | null): Promise<boolean> {
    return (await this.write(this.names.failover, failoverAnnotations(value), version)) !== false;
  }

  async setHistoryValue(value: string): Promise<boolean> {
    return (await this.write(this.names.config, { history: value })) !== false;
  }

  async setSyncStateValue(value: string, version?: Version | null): Promise<Version | false> {
    const res = await this.write(this.names.sync, syncAnnotations(value), version);
    return res === false ? false : String(res.metadata.resourceVersion);
  }

  async deleteSyncState(version?: Version | null): Promise<boolean> {
    return (await this.write(this.names.sync, { leader: null, sync_standby: null, quorum: null }, version)) !== false;
  }

  /** Annotations on the leader object, written only while it holds my name (CAS on its version). */
  private async writeOnLeader(annotations: Annotations): Promise<boolean> {
    if (this.leaseSentAt === null) return false;
    const deadline = this.deadline();
    let cur = this.objects.cached(this.names.leader);
    for (let attempt = 0; attempt < 2 && cur; attempt++) {
      if (annotationsOf(cur).leader !== this.ctx.name) return false;
      try {
        await this.objects.patch(this.names.leader, annotations, String(cur.metadata.resourceVersion), deadline);
        return true;
      } catch (e) {
        if (e instanceof NotFoundError) return false;
        if (!(e instanceof ConflictError)) throw e;
      }
      cur = await this.readLeader(deadline);
    }
    return false;
  }

  writeStatus(value: string): Promise<boolean> { return this.writeOnLeader(statusAnnotations(value)); }
  writeFailsafe(value: string): Promise<boolean> { return this.writeOnLeader({ failsafe: value || null }); }
  writeLeaderOptime(lastLsn: string): Promise<boolean> { return this.writeOnLeader({ optime: lastLsn }); }

  async deleteCluster(): Promise<boolean> {
    const deadline = this.deadline();
    await this.objects.deleteAll(deadline);
    // Members too: the cluster is gone, so its Pods stop advertising member records.
    for (const pod of await this.objects.listPods(deadline)) {
      const a = annotationsOf(pod);
      if (a.status === undefined && a[MEMBER_RENEW_ANNOTATION] === undefined) continue;
      await this.api.call('PATCH', this.objects.podPath(pod.metadata.name), deadline,
        { metadata: { annotations: { status: null, [MEMBER_RENEW_ANNOTATION]: null } } }, MERGE_PATCH).catch((e: unknown) => {
        if (!(e instanceof NotFoundError)) throw e;
      });
    }
    this.leaseSentAt = null;
    return true;
  }

  /**
   * Followers wait here: any event on the leader object (a renewal, a new holder, a deletion) wakes
   * them, as in Patroni, and so does the instant the record expires by our observation.
   */
  async watch(leaderVersion: Version | null, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    // Without a list version to resume from (ctl, never listed, a server that sent none) there is
    // nothing safe to watch from: a watch from "now" would replay every object and wake at once.
    if (this.ctx.ctl || !this.lastListRv) {
      await sleep(timeoutMs, signal);
      return false;
    }
    const cached = this.objects.cached(this.names.leader);
    if (leaderVersion !== null && String(cached?.metadata.resourceVersion ?? null) !== String(leaderVersion)) return true;
    if (signal.aborted) return false;
    const seen = this.observer.observedAt('leader');
    const expiresIn = cached && annotationsOf(cached).leader && seen !== null
      ? seen + recordTtl(cached, this._ttl) * 1000 - performance.now() + 50 : null;
    return new Promise<boolean>((resolve) => {
      let stream: AbortController | null = null;
      let settled = false;
      const timers: NodeJS.Timeout[] = [];
      const finish = (v: boolean) => {
        if (settled) return;
        settled = true;
        timers.forEach((t) => clearTimeout(t));
        signal.removeEventListener('abort', onAbort);
        stream?.abort();
        resolve(v);
      };
      const onAbort = () => finish(false);
      signal.addEventListener('abort', onAbort, { once: true });
      timers.push(setTimeout(() => finish(false), timeoutMs));
      // Only a record still valid has an expiry to wake for; an expired one was already seen as such.
      if (expiresIn !== null && expiresIn > 50 && expiresIn < timeoutMs) timers.push(setTimeout(() => finish(true), expiresIn));
      const params = {
        labelSelector: labelSelector(this.s.labels), fieldSelector: `metadata.name=${this.names.leader}`,
        resourceVersion: this.lastListRv!, allowWatchBookmarks: 'true',
      };
      this.api.watch(this.objects.kindsPath(), params, (type, obj) => {
        if (type === 'BOOKMARK') return;
        if (type === 'ERROR') return finish(true); // 410 Gone: our list is too old; the next loop re-lists
        if (obj?.metadata?.name !== this.names.leader) return;
        this.judgeLeader(type === 'DELETED' ? null : obj, performance.now());
        finish(true);
      }, () => {
        // The stream ended or failed: keep sleeping (no busy loop); expiry and timeout still wake us.
      }).then((ac) => {
        stream = ac;
        if (settled) ac.abort();
      }, () => { /* as above */ });
    });
  }

  async close(): Promise<void> { this.closed = true; }
}
