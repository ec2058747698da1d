/** Consul's JSON shapes for the emulator's agent, catalog, health and KV answers. */
import type { LocalAgent } from './agent.js';
import type { ConsulState, KvEntry } from './state.js';

const NODE_ID = '00000000-0000-4000-8000-000000000001';

export function memberView(state: ConsulState): Record<string, unknown> {
  return { Name: state.opts.nodeName, Addr: '127.0.0.1', Port: 8301, Status: 1, Tags: { role: 'consul', dc: state.opts.datacenter, build: '1.15.4:pgha-emulator' } };
}

export function agentSelfView(state: ConsulState): Record<string, unknown> {
  return {
    Config: { Datacenter: state.opts.datacenter, NodeName: state.opts.nodeName, NodeID: NODE_ID, Revision: 'pgha-emulator', Server: true, Version: '1.15.4' },
    DebugConfig: { SessionTTLMin: state.ttlMinText(), Datacenter: state.opts.datacenter, NodeName: state.opts.nodeName },
    Member: memberView(state),
    Meta: {},
  };
}

export function catalogNodeView(state: ConsulState): Record<string, unknown> {
  return { ID: NODE_ID, Node: state.opts.nodeName, Address: '127.0.0.1', Datacenter: state.opts.datacenter };
}

export function catalogServicesView(agent: LocalAgent): Record<string, string[]> {
  const out: Record<string, string[]> = { consul: [] };
  for (const s of agent.services.values()) out[s.Service] = [...new Set([...(out[s.Service] ?? []), ...s.Tags])];
  return out;
}

export function catalogServiceView(state: ConsulState, agent: LocalAgent, name: string, tag: string | null): Array<Record<string, unknown>> {
  return [...agent.services.values()].filter((s) => s.Service === name && (!tag || s.Tags.includes(tag))).map((s) => ({
    Node: state.opts.nodeName, Address: '127.0.0.1', Datacenter: state.opts.datacenter, ServiceID: s.ID, ServiceName: s.Service,
    ServiceTags: s.Tags, ServiceAddress: s.Address, ServicePort: s.Port, ServiceMeta: s.Meta, ServiceEnableTagOverride: s.EnableTagOverride,
  }));
}

export function healthServiceView(state: ConsulState, agent: LocalAgent, name: string, passingOnly: boolean): Array<Record<string, unknown>> {
  return [...agent.services.values()].filter((s) => s.Service === name).map((s) => {
    const checks = [...state.checks.values()].filter((c) => c.CheckID === 'serfHealth' || c.ServiceID === s.ID).map((c) => ({ Node: state.opts.nodeName, ...c }));
    return { Node: catalogNodeView(state), Service: s, Checks: checks };
  }).filter((e) => !passingOnly || e.Checks.every((c) => c.Status === 'passing'));
}

export function view(e: KvEntry): Record<string, unknown> {
  return {
    LockIndex: e.LockIndex, Key: e.Key, Flags: e.Flags, Value: e.Value ? e.Value.toString('base64') : null,
    ...(e.Session ? { Session: e.Session } : {}), CreateIndex: e.CreateIndex, ModifyIndex: e.ModifyIndex,
  };
}
