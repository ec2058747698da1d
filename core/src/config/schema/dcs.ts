/**
 * DCS sections as Patroni documents them. pgha's DCS plugins validate their own section again with
 * their own schema when loaded; these schemas catch type errors for every section, installed or not.
 */
import { z } from 'zod';
import { anyMap, bool, int, scalarMap, scalarString, str, stringList, stringOrList } from './primitives.js';

const tls = {
  cacert: str.optional(),
  cert: str.optional(),
  key: str.optional(),
  key_password: str.optional(),
};

const etcdCommon = {
  host: scalarString.optional(),
  hosts: stringOrList.optional(),
  use_proxies: bool.optional(),
  url: str.optional(),
  proxy: str.optional(),
  srv: str.optional(),
  srv_suffix: str.optional(),
  protocol: z.enum(['http', 'https']).optional(),
  username: str.optional(),
  password: scalarString.optional(),
  ...tls,
};

export const etcdSection = z.looseObject(etcdCommon);
export const etcd3Section = z.looseObject(etcdCommon);

export const consulSection = z.looseObject({
  host: scalarString.optional(),
  url: str.optional(),
  port: int.optional(),
  scheme: z.enum(['http', 'https']).optional(),
  token: str.optional(),
  verify: bool.optional(),
  dc: str.optional(),
  consistency: z.enum(['default', 'consistent', 'stale']).optional(),
  checks: stringList.optional(),
  register_service: bool.optional(),
  service_tags: stringList.optional(),
  service_check_interval: scalarString.optional(),
  service_check_tls_server_name: str.optional(),
  ...tls,
});

export const zookeeperSection = z.looseObject({
  hosts: stringOrList.optional(),
  use_ssl: bool.optional(),
  verify: bool.optional(),
  set_acls: anyMap.optional(),
  auth_data: anyMap.optional(),
  ...tls,
});

export const exhibitorSection = z.looseObject({
  hosts: stringOrList.optional(),
  poll_interval: int.optional(),
  port: int.optional(),
});

export const kubernetesSection = z.looseObject({
  bypass_api_service: bool.optional(),
  namespace: str.optional(),
  labels: scalarMap.optional(),
  scope_label: str.optional(),
  role_label: str.optional(),
  leader_label_value: str.optional(),
  follower_label_value: str.optional(),
  standby_leader_label_value: str.optional(),
  tmp_role_label: str.optional(),
  use_endpoints: bool.optional(),
  pod_ip: str.optional(),
  ports: z.array(z.looseObject({ name: str.optional(), port: int })).optional(),
  cacert: str.optional(),
  retriable_http_codes: z.union([int, z.array(int)]).optional(),
  bootstrap_labels: scalarMap.optional(),
  context: str.optional(),
});

export const raftSection = z.looseObject({
  self_addr: str.optional(),
  bind_addr: str.optional(),
  partner_addrs: stringOrList.optional(),
  data_dir: str.optional(),
  password: scalarString.optional(),
});

/** Section name → schema, for every DCS Patroni knows. */
export const DCS_SECTION_SCHEMAS = {
  etcd: etcdSection,
  etcd3: etcd3Section,
  consul: consulSection,
  zookeeper: zookeeperSection,
  exhibitor: exhibitorSection,
  kubernetes: kubernetesSection,
  raft: raftSection,
} as const;

export type DcsSectionName = keyof typeof DCS_SECTION_SCHEMAS;
export const DCS_SECTION_NAMES = Object.keys(DCS_SECTION_SCHEMAS) as DcsSectionName[];
