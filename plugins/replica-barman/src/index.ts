import { definePlugin } from '@pgha/core';
import { createBarmanMethod } from './barman.js';
import { barmanSection, type BarmanSection } from './options.js';

export { BarmanApiMethod, BarmanRecoverMethod, createBarmanMethod, dirBytes, HTTP_ERROR, RECOVERY_DONE, RECOVERY_FAILED, type ApiSettings } from './barman.js';
export { barmanSection, parsePatroniBarmanArgv, recoverArgv, type BarmanSection } from './options.js';
export { PgBackupApi, PgBackupApiError, type PgBackupApiOptions } from './pg-backup-api.js';

/** The `postgresql.barman` section (see options.ts for the forms). */
export default definePlugin<BarmanSection>({
  kind: 'replica',
  name: 'barman',
  apiVersion: '1.0',
  configKey: 'barman',
  configSchema: barmanSection,
  description: 'build a replica with barman recover on this host, or through pg-backup-api on the Barman host',
  create(ctx, config) {
    return createBarmanMethod(ctx, config);
  },
});
