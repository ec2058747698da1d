/**
 * Choosing members the way patronictl does: by role (`leader`, `primary`, `standby-leader`,
 * `replica`, `standby`, `any`; 3.x's `master` = primary), by name, with prompts and the final
 * "Are you sure you want to <action> members X?" unless --force.
 */
import { Member, type Cluster } from '@pgha/core';
import { CtlError } from './errors.js';
import { formatMembers } from './members.js';
import { confirm, prompt } from './prompt.js';

export const ROLE_CHOICES = ['leader', 'primary', 'standby-leader', 'replica', 'standby', 'any', 'master'] as const;
export type CtlRole = (typeof ROLE_CHOICES)[number];

function isPrimaryRole(role: unknown): boolean {
  return role === 'primary' || role === 'master';
}

/** Members having `role`; the leader roles look at the leader key's member only. */
export function membersWithRole(cluster: Cluster, role: CtlRole = 'leader'): Member[] {
  const r = role === 'master' ? 'primary' : role;
  if (r === 'leader' || r === 'primary' || r === 'standby-leader') {
    const leader = cluster.leader;
    if (!leader?.name) return [];
    const dataRole = leader.data.role;
    const ok = r === 'leader' ||
      (r === 'standby-leader' && !isPrimaryRole(dataRole)) ||
      (r === 'primary' && dataRole !== 'standby_leader');
    return ok ? [leader.member] : [];
  }
  return cluster.members.filter((m) => r === 'any' || m.name !== cluster.leaderName);
}

/** One member by name (any role) or the first with `role` (default leader). */
export function anyMember(cluster: Cluster, role: CtlRole | undefined, member: string | undefined): Member | null {
  if (member !== undefined) {
    if (role !== undefined) throw new CtlError('--role and --member are mutually exclusive options');
    return membersWithRole(cluster, 'any').find((m) => m.name === member) ?? null;
  }
  return membersWithRole(cluster, role ?? 'leader')[0] ?? null;
}

/** Members with a REST API, the leader first: who to ask for cluster-wide changes. */
export function membersLeaderFirst(cluster: Cluster): Member[] {
  const leader = cluster.leader?.member.apiUrl ? cluster.leader.member : null;
  return [...(leader ? [leader] : []), ...cluster.members.filter((m) => m.apiUrl && m.name !== leader?.name)];
}

export async function confirmMembersAction(members: readonly Member[], force: boolean, action: string,
  scheduledAt?: string | null, pending?: boolean): Promise<void> {
  if (force) return;
  const names = members.map((m) => m.name).join(', ');
  if (scheduledAt) {
    const text = pending
      ? 'The nodes needing a restart will be identified at the scheduled time, and might be different from the ones showing pending restart right now. Is this fine?'
      : `Are you sure you want to schedule ${action} of members ${names} at ${scheduledAt}?`;
    if (!(await confirm(text))) throw new CtlError(`Aborted scheduled ${action}`);
  } else if (!(await confirm(`Are you sure you want to ${action} members ${names}?`))) {
    throw new CtlError(`Aborted ${action}`);
  }
}

/**
 * patronictl's get_members: prints the cluster table (unless forced without a role filter), narrows
 * the named members to those with the role, asks which member when none is named, and confirms.
 */
export async function selectMembers(cluster: Cluster, clusterName: string, names: readonly string[], role: CtlRole,
  force: boolean, action: string, askConfirmation = true): Promise<Member[]> {
  const members = membersWithRole(cluster, role);
  const candidates = members.map((m) => m.name);
  // The role always has a value here (default `any`), so the table is always shown, as in patronictl.
  if (!names.length && !candidates.length) throw new CtlError(`${clusterName} cluster doesn't have any members`);
  process.stdout.write(`${formatMembers(cluster, clusterName)}\n`);
  let chosen: string[];
  if (names.length) {
    chosen = [...new Set(names)].filter((n) => candidates.includes(n));
    if (!chosen.length) throw new CtlError(`No ${role} among provided members`);
  } else {
    chosen = action === 'reinitialize' ? [] : candidates;
  }
  if (!chosen.length && !force) {
    chosen = [await prompt(`Which member do you want to ${action} [${candidates.join(', ')}]?`, { default: '' })];
  }
  for (const n of chosen) if (!candidates.includes(n)) throw new CtlError(`${n} is not a member of cluster`);
  const out = members.filter((m) => chosen.includes(m.name));
  if (askConfirmation) await confirmMembersAction(out, force, action);
  return out;
}
