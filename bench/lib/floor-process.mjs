// The floor under an idle pgha primary: a bare Node process doing, every loop_wait, only what the
// primary cannot skip, through the same code: the monitoring query (pg), one renewal on the etcd3
// plugin's LeaseKeepAlive stream (its own HTTP/2 connection), a watch open on the etcd3 client (whose
// gRPC keep-alive pings run every 6 s, as the agent's), one log line (pino, to a file). No HA logic.
// bench/footprint.ts runs it beside the agents and prints its CPU.
// Plain JavaScript run by plain node, as the agent is (no TypeScript loader in the process).
// argv: <pg port> <etcd host:port> <loop_wait s> <log file>; the superuser in PGUSER and PGPASSWORD (pg reads them).
import { Etcd3 } from 'etcd3';
import pino from 'pino';
import pg from '../../core/dist/postgres/pg-driver.js';
import { MONITOR_QUERY } from '../../core/dist/postgres/monitor.js';
import { keepAliveTarget } from '../../plugins/dcs-etcd3/dist/client.js';
import { KeepAliveChannel } from '../../plugins/dcs-etcd3/dist/keepalive-stream.js';

const [pgPort, etcdHost, loopWait, logFile] = process.argv.slice(2);
const db = new pg.Client({ host: '127.0.0.1', port: Number(pgPort), database: 'postgres' });
await db.connect();
const etcd = new Etcd3({ hosts: etcdHost, grpcOptions: { 'grpc.keepalive_time_ms': 6000, 'grpc.keepalive_timeout_ms': 2000 } });
const { ID } = await etcd.leaseClient.leaseGrant({ TTL: 30 });
await etcd.watch().prefix('/floor/').create();
const channel = new KeepAliveChannel(keepAliveTarget(etcd, { endpoints: { hosts: [`http://${etcdHost}`], secure: false } }));
const log = pino({ base: null }, pino.destination({ dest: logFile, sync: true }));

setInterval(async () => {
  await db.query(MONITOR_QUERY);
  await channel.renew(String(ID), Date.now() + 5000, () => undefined);
  log.info('no action. I am (node1), the leader with the lock');
}, Number(loopWait) * 1000);
process.on('SIGTERM', () => process.exit(0));
