/**
 * The DI container (tsyringe), inside the core only. Explicit tokens and factories (no decorator
 * metadata), so it works with any toolchain. Plugins never see it: the plugin host hands each one
 * a record of exactly the services its manifest `uses` (see serviceSource).
 */
import 'reflect-metadata';
import { container as rootContainer, type DependencyContainer, type InjectionToken } from 'tsyringe';
import type { PluginServices, ServiceName } from '@pgha/plugin-api';
import { ErrorCodes, PghaError } from './errors.js';
import type { HttpAnswer, HttpRequestInit } from './util/http-request.js';

/** The agent's client for other members' REST APIs (fetch fits it; the agent's own is util/http-request.ts). */
export type HttpClient = (url: string | URL, init?: HttpRequestInit) => Promise<HttpAnswer>;

/** The services plugins may declare (defined by @pgha/plugin-api). */
export type ServiceMap = PluginServices;
export type { ServiceName };

export const Tokens: { readonly [K in ServiceName]: InjectionToken<ServiceMap[K]> } = {
  config: Symbol.for('pgha.config'),
  logger: Symbol.for('pgha.logger'),
  clock: Symbol.for('pgha.clock'),
  http: Symbol.for('pgha.http'),
  members: Symbol.for('pgha.members'),
};

/** Resolves the services a plugin declared, exactly those. */
export type ServiceSource = <S extends ServiceName>(names: readonly S[]) => Pick<ServiceMap, S>;

/** A fresh child container per agent (tests run several agents in one process). Services may come later (provideService). */
export function createContainer(services: Partial<ServiceMap>): DependencyContainer {
  const c = rootContainer.createChildContainer();
  for (const name of Object.keys(services) as ServiceName[]) provideService(c, name, services[name] as ServiceMap[typeof name]);
  return c;
}

/** Register (or replace) one service, e.g. `members` once the DCS exists. */
export function provideService<K extends ServiceName>(c: DependencyContainer, name: K, value: ServiceMap[K]): void {
  c.register(Tokens[name] as InjectionToken<unknown>, { useFactory: () => value });
}

/** Resolve the services a plugin declared; one that is not available here is a clear error. */
export function resolveServices<S extends ServiceName>(c: DependencyContainer, names: readonly S[] = []): Pick<ServiceMap, S> {
  const out = {} as Pick<ServiceMap, S>;
  for (const n of names) {
    const token: InjectionToken<ServiceMap[S]> = Tokens[n];
    if (!c.isRegistered(token, true)) throw new PghaError(ErrorCodes.PLUGIN_INVALID, `service ${n} is not available here (this command runs without it)`);
    out[n] = c.resolve(token);
  }
  return out;
}

/** The one view of the container plugins get: a resolver of declared services. */
export function serviceSource(c: DependencyContainer): ServiceSource {
  return (names) => resolveServices(c, names);
}
