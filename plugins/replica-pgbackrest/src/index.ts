import { definePlugin } from '@pgha/core';
import { pgbackrestSection, type PgBackRestSection } from './options.js';
import { createPgBackRestMethod } from './pgbackrest.js';

export { PgBackRestMethod, createPgBackRestMethod } from './pgbackrest.js';
export { pgbackrestSection, restoreArgv, type PgBackRestSection, type RestorePlan } from './options.js';

/** The `postgresql.pgbackrest` section (see options.ts for both forms). */
export default definePlugin<PgBackRestSection>({
  kind: 'replica',
  name: 'pgbackrest',
  apiVersion: '1.0',
  configKey: 'pgbackrest',
  configSchema: pgbackrestSection,
  description: 'build a replica from a pgBackRest repository (restore --type=standby, --delta when PGDATA holds a cluster)',
  create(ctx, config) {
    return createPgBackRestMethod(ctx, config);
  },
});
