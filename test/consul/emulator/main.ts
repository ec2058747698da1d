/**
 * Run the Consul emulator as its own process (tests spawn it like a server binary):
 *   node --import tsx test/consul/emulator/main.ts --port 8500 [--ttl-multiplier 2] [--session-ttl-min 10s]
 *        [--acl-token TOKEN] [--read-token TOKEN] [--node NAME] [--dc NAME]
 *        [--tls-cert FILE --tls-key FILE [--tls-ca FILE: require client certificates signed by it]]
 * Prints `consul emulator listening on 127.0.0.1:<port>` once it accepts connections; stops on SIGTERM/SIGINT.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseDuration } from './duration.js';
import { ConsulEmulator } from './server.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8500' },
    host: { type: 'string', default: '127.0.0.1' },
    'ttl-multiplier': { type: 'string', default: '2' },
    'session-ttl-min': { type: 'string', default: '10s' },
    'acl-token': { type: 'string' },
    'read-token': { type: 'string', multiple: true },
    node: { type: 'string', default: 'consul-emulator' },
    dc: { type: 'string', default: 'dc1' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'tls-ca': { type: 'string' },
  },
});

const ttlMin = parseDuration(values['session-ttl-min']!);
const multiplier = Number(values['ttl-multiplier']);
if (ttlMin === null || !(multiplier >= 1)) {
  process.stderr.write('invalid --session-ttl-min (a duration) or --ttl-multiplier (>= 1)\n');
  process.exit(2);
}
const emulator = new ConsulEmulator({
  sessionTtlMinMs: ttlMin, ttlMultiplier: multiplier, nodeName: values.node!, datacenter: values.dc!,
  ...(values['tls-cert'] && values['tls-key'] ? {
    tls: { cert: readFileSync(values['tls-cert']), key: readFileSync(values['tls-key']), ...(values['tls-ca'] ? { ca: readFileSync(values['tls-ca']) } : {}) },
  } : {}),
  ...(values['acl-token'] ? { acl: { managementToken: values['acl-token'], readTokens: values['read-token'] ?? [] } } : {}),
});
const port = await emulator.listen(Number(values.port), values.host!);
process.stdout.write(`consul emulator listening on ${values.host}:${port}\n`);
const stop = () => void emulator.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
