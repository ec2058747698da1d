import { definePlugin } from '@pgha/core';
import { BasebackupMethod } from './basebackup.js';

export { BasebackupMethod, basebackupArgs, type BasebackupOptions } from './basebackup.js';

/** The `postgresql.basebackup` section: a dict or list of pg_basebackup options (see processUserOptions). */
export default definePlugin<unknown>({
  kind: 'replica',
  name: 'basebackup',
  apiVersion: '1.0',
  configKey: 'basebackup',
  description: 'clone a running member with pg_basebackup -X stream',
  create(ctx, config) {
    return new BasebackupMethod(ctx, config);
  },
});
