/**
 * `register_service`: the member as a Consul service (id `<scope>/<name>`, name from the scope,
 * address and port from conn_url, tags = service_tags + role, an HTTP check on the REST API's
 * role endpoint), re-registered when role, state or URLs change, deregistered when stopped.
 * Patroni's behaviour; failures are logged and retried next cycle, never fail touchMember.
 */
import type { DcsContext } from '@pgha/core';
import type Consul from 'consul';
import type { DeadlineCaller } from './client.js';
import { serviceNameFromScope } from './config.js';

export interface ServiceSettings {
  readonly register: boolean;
  readonly tags: readonly string[];
  readonly checkInterval: string;
  readonly tlsServerName?: string;
  /** Session TTL × 10, Patroni's deregister_critical_service_after. */
  readonly deregisterAfter: string;
}

const ROLES = ['master', 'primary', 'replica', 'standby-leader'];

export class ServiceRegistrar {
  private last: string | null = null;
  private failed = false;
  readonly serviceName: string;

  constructor(
    private readonly client: Consul,
    private readonly caller: DeadlineCaller,
    private readonly ctx: DcsContext,
    private readonly s: ServiceSettings,
    private readonly warn: (msg: string) => void = () => undefined,
  ) {
    this.serviceName = serviceNameFromScope(ctx.scope);
    if (this.serviceName !== ctx.scope) warn(`Using ${this.serviceName} as consul service name instead of scope name ${ctx.scope}`);
  }

  get serviceId(): string { return `${this.ctx.scope}/${this.ctx.name}`; }

  async update(data: Record<string, unknown>): Promise<void> {
    const { role, state, api_url: apiUrl, conn_url: connUrl } = data as Record<string, string | undefined>;
    if (!role || !state || !apiUrl || !connUrl) return;
    const key = JSON.stringify([role, state, apiUrl, connUrl]);
    if (key === this.last && !this.failed) return;
    try {
      await this.apply(role.replace(/_/g, '-'), state, apiUrl, connUrl);
      this.last = key;
      this.failed = false;
    } catch (e) {
      this.failed = true;
      this.warn(`update_service: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private async apply(role: string, state: string, apiUrl: string, connUrl: string): Promise<void> {
    if (state === 'stopped') {
      await this.caller.run('deregister service', (o) => this.client.agent.service.deregister({ id: this.serviceId, ...o } as never));
      return;
    }
    if (!ROLES.includes(role) || state !== 'running') return;
    const api = new URL(apiUrl);
    api.pathname = `/${role}`;
    const conn = new URL(connUrl);
    const tags = [...this.s.tags, role, ...(role === 'master' ? ['primary'] : role === 'primary' ? ['master'] : [])];
    const check = {
      http: api.toString(), interval: this.s.checkInterval, deregistercriticalserviceafter: this.s.deregisterAfter,
      ...(this.s.tlsServerName !== undefined ? { tlsservername: this.s.tlsServerName } : {}),
    };
    await this.caller.run('register service', (o) => this.client.agent.service.register({
      name: this.serviceName, id: this.serviceId, address: conn.hostname, port: conn.port ? Number(conn.port) : 5432, tags, check,
      enabletagoverride: true, ...o,
    } as never));
  }
}
