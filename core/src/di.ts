/**
 * The DI container. Explicit tokens and factories only (no decorator metadata), so it works with
 * any toolchain. The core registers its services here; plugins receive the ones they declare in
 * their manifest's `uses`.
 */
import 'reflect-metadata';
import { container as rootContainer, type DependencyContainer, type InjectionToken } from 'tsyringe';
import type { Logger } from './log.js';
import type { Clock } from './util/clock.js';

/** Minimal HTTP client (WHATWG fetch) used for peer status checks and REST calls. */
export type HttpClient = typeof fetch;

export interface ServiceMap {
  /** The effective configuration (local merged with dynamic), as a plain object. */
  config: Readonly<Record<string, unknown>>;
  logger: Logger;
  clock: Clock;
  http: HttpClient;
}

export type ServiceName = keyof ServiceMap;

export const Tokens: { readonly [K in ServiceName]: InjectionToken<ServiceMap[K]> } = {
  config: Symbol.for('pgha.config'),
  logger: Symbol.for('pgha.logger'),
  clock: Symbol.for('pgha.clock'),
  http: Symbol.for('pgha.http'),
};

/** A fresh child container per agent (tests run several agents in one process). */
export function createContainer(services: ServiceMap): DependencyContainer {
  const c = rootContainer.createChildContainer();
  for (const name of Object.keys(Tokens) as ServiceName[]) {
    const value = services[name];
    c.register(Tokens[name] as InjectionToken<unknown>, { useFactory: () => value });
  }
  return c;
}

/** Resolve the services a plugin declared. Unknown names are a manifest error caught at load. */
export function resolveServices<S extends ServiceName>(c: DependencyContainer, names: readonly S[] = []): Pick<ServiceMap, S> {
  const out = {} as Pick<ServiceMap, S>;
  for (const n of names) (out as Record<string, unknown>)[n] = c.resolve(Tokens[n] as InjectionToken<unknown>);
  return out;
}
