import { afterAll, beforeAll } from 'vitest';
import { runDcsConformance } from '@pgha/core/testing';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.js';
import { conformanceTarget } from './harness.js';

let etcd: EtcdCluster;
beforeAll(async () => { etcd = await startEtcd(); });
afterAll(async () => { await etcd?.stop(); });

runDcsConformance('etcd3 (single member)', () => conformanceTarget(() => etcd));
