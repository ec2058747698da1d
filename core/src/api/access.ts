/**
 * Access control for write endpoints, in Patroni's order (reference §4): source address against
 * `allowlist` (+ members' REST API addresses with `allowlist_include_members`) -> 403; client
 * certificate when `verify_client` is required/optional -> 403; Basic auth -> 401.
 */
import { timingSafeEqual } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../log.js';
import type { ApiBackend } from './backend.js';
import { textReply } from './http-util.js';
import type { Reply, RestApiConfig } from './types.js';

type Family = 'ipv4' | 'ipv6';

/** `::ffff:10.0.0.1` (an IPv4 client on a dual-stack socket) is the IPv4 address 10.0.0.1. */
function normalizeAddress(addr: string): { address: string; family: Family } {
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr);
  if (v4) return { address: v4[1]!, family: 'ipv4' };
  return { address: addr, family: isIP(addr) === 6 ? 'ipv6' : 'ipv4' };
}

async function resolveHost(host: string, logger: Logger): Promise<Array<{ address: string; family: Family }>> {
  const bare = host.replace(/^\[|\]$/g, '');
  if (isIP(bare)) return [normalizeAddress(bare)];
  try {
    return (await lookup(bare, { all: true })).map((a) => normalizeAddress(a.address));
  } catch (e) {
    logger.error(`Failed to resolve ${host}: ${e instanceof Error ? e.message : String(e)}`);
    return [];
  }
}

export class AccessControl {
  private allowlist: BlockList | null = null;
  private readonly authKey: Buffer | null;

  constructor(private readonly config: RestApiConfig, private readonly backend: ApiBackend,
    private readonly logger: Logger, private readonly isHttps: boolean) {
    const auth = config.authentication;
    this.authKey = auth?.username !== undefined || auth?.password !== undefined
      ? Buffer.from(Buffer.from(`${auth?.username ?? ''}:${auth?.password ?? ''}`).toString('base64'))
      : null;
  }

  /** Resolve the allowlist (networks, addresses, host names) once, at server start. */
  async init(): Promise<void> {
    const entries = this.config.allowlist;
    if (!entries?.length) return;
    const list = new BlockList();
    for (const entry of entries) {
      if (entry.includes('/')) {
        const [net, bits] = entry.split('/');
        const { address, family } = normalizeAddress(net!.trim());
        const prefix = Number(bits);
        try {
          if (!isIP(address) || !Number.isInteger(prefix)) throw new Error('not a network');
          list.addSubnet(address, prefix, family);
        } catch (e) {
          this.logger.error(`Invalid value "${entry}" in the allowlist: ${e instanceof Error ? e.message : String(e)}`);
        }
      } else {
        for (const a of await resolveHost(entry.trim(), this.logger)) list.addAddress(a.address, a.family);
      }
    }
    this.allowlist = list;
  }

  private async memberAddresses(): Promise<BlockList> {
    const list = new BlockList();
    for (const m of this.backend.cachedCluster()?.members ?? []) {
      if (!m.apiUrl) continue;
      let host: string;
      try {
        host = new URL(m.apiUrl).hostname;
      } catch {
        continue;
      }
      for (const a of await resolveHost(host, this.logger)) list.addAddress(a.address, a.family);
    }
    return list;
  }

  /** null when allowed, else the 403/401 reply. `checkMembers` false: only the static allowlist counts. */
  async check(req: IncomingMessage, checkMembers = true): Promise<Reply | null> {
    const withMembers = checkMembers && !!this.config.allowlist_include_members;
    if (this.allowlist || withMembers) {
      const client = normalizeAddress(req.socket.remoteAddress ?? '');
      const allowed = (!!this.allowlist && this.allowlist.check(client.address, client.family)) ||
        (withMembers && (await this.memberAddresses()).check(client.address, client.family));
      if (!allowed) return textReply(403, 'Access is denied');
    }
    const verify = this.config.verify_client?.toLowerCase();
    if (this.isHttps && (verify === 'required' || verify === 'optional')) {
      const sock = req.socket as TLSSocket;
      const cert = typeof sock.getPeerCertificate === 'function' ? sock.getPeerCertificate() : null;
      if (!cert || !Object.keys(cert).length || !sock.authorized) return textReply(403, 'client certificate required');
    }
    if (this.authKey) {
      const header = req.headers.authorization;
      const reason = header === undefined ? 'no auth header received'
        : !header.startsWith('Basic ') || !this.keyMatches(header.slice(6)) ? 'not authenticated' : null;
      if (reason) return textReply(401, reason, { 'WWW-Authenticate': 'Basic realm="Patroni"' });
    }
    return null;
  }

  private keyMatches(given: string): boolean {
    const g = Buffer.from(given);
    return g.length === this.authKey!.length && timingSafeEqual(g, this.authKey!);
  }
}
