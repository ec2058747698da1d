/** Which failures DeadlineCaller retries within retry_timeout (isTransient). */
import { describe, expect, it } from 'vitest';
import { EtcdPermissionDeniedError } from 'etcd3';
import { isTransient } from './client.js';

describe('isTransient', () => {
  it('retries what the plugin marks transient (a keep-alive stream that ended), elections and timeouts', () => {
    expect(isTransient(Object.assign(new Error('lease keepalive stream ended'), { transient: true }))).toBe(true);
    expect(isTransient(new Error('etcdserver: no leader'))).toBe(true);
    expect(isTransient(new Error('lease keepalive timed out'))).toBe(true);
  });

  it('fails at once on what another attempt cannot fix', () => {
    expect(isTransient(new Error('lease keepalive stream ended'))).toBe(false);
    expect(isTransient(new EtcdPermissionDeniedError('permission denied'))).toBe(false);
    expect(isTransient('not an error')).toBe(false);
  });
});
