/**
 * A replica method defined by a `command` in its configuration section (pgbackrest, barman, wal_e
 * scripts...). Arguments follow Patroni exactly, so existing wrapper scripts work unchanged.
 */
import { flag } from '../bootstrap/custom.js';
import { runCommand, shlexSplit, userCommandCwd } from '../postgres/exec.js';
import type { ReplicaCreateRequest, ReplicaMethod, ReplicaMethodContext } from './contract.js';
import { pgbackrestProgressEnv, toolProgressLineHandler } from './progress.js';

/** Keys that steer pgha; with `no_params` they are not passed to the command. */
export const REPLICA_METHOD_FLAGS = ['no_params', 'no_master', 'no_leader', 'keep_data'] as const;

/** The `no_leader` (or legacy `no_master`) flag; basebackup always needs a source. */
export function methodWorksWithoutSource(name: string, section: Readonly<Record<string, unknown>>): boolean {
  return name !== 'basebackup' && (flag(section.no_leader) || flag(section.no_master));
}

function argValue(v: unknown): string {
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  return typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
}

/**
 * argv for a custom method. Without `no_params`: the command, then every section key except
 * `command`/`no_params` as --key=value (no_leader/keep_data included, as Patroni passes them; scripts
 * such as patroni_wale_restore read --no_leader), then --scope --role=replica --datadir --connstring.
 */
export function customReplicaArgv(name: string, section: Readonly<Record<string, unknown>>, ctx: Pick<ReplicaMethodContext, 'scope' | 'dataDir'>, connstring: string | null): string[] {
  const command = typeof section.command === 'string' && section.command ? section.command : name;
  const noParams = flag(section.no_params);
  const params: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(section)) {
    if (k === 'command' || k === 'no_params') continue;
    if (noParams && (REPLICA_METHOD_FLAGS as readonly string[]).includes(k)) continue;
    params[k] = v;
  }
  if (!noParams) Object.assign(params, { scope: ctx.scope, role: 'replica', datadir: ctx.dataDir, connstring: connstring ?? '' });
  return [...shlexSplit(command), ...Object.entries(params).map(([k, v]) => `--${k}=${argValue(v)}`)];
}

export class CustomScriptReplicaMethod implements ReplicaMethod {
  readonly noLeader: boolean;
  readonly keepData: boolean;

  constructor(readonly name: string, private readonly section: Readonly<Record<string, unknown>>, private readonly ctx: ReplicaMethodContext) {
    this.noLeader = methodWorksWithoutSource(name, section);
    this.keepData = flag(section.keep_data);
  }

  async create(req: ReplicaCreateRequest): Promise<number> {
    const [cmd, ...args] = customReplicaArgv(this.name, this.section, this.ctx, req.connstring);
    this.ctx.logger.info({ method: this.name, command: cmd }, 'running replica creation script');
    // Wrapper scripts around pg_basebackup or pgBackRest: their progress lines feed the published progress.
    const onLine = req.progress ? toolProgressLineHandler(req.progress) : undefined;
    const env = { ...req.env, ...pgbackrestProgressEnv([cmd!, ...args]) };
    const r = await runCommand(cmd!, args, { runAs: this.ctx.runAs, env, signal: req.signal, logger: this.ctx.logger, onLine, cwd: userCommandCwd() });
    return r.code;
  }
}
