import { describe, expect, it } from 'vitest';
import { applyDcsUrl, parseDcsUrl } from '../../cli/src/ctl/dcs-url.js';
import { CtlError } from '../../cli/src/ctl/errors.js';

describe('--dcs-url parsing (patronictl parse_dcs)', () => {
  it('takes scheme, host, port and a namespace path', () => {
    expect(parseDcsUrl('etcd3://127.0.0.1:2399/customnamespace')).toEqual({ sections: { etcd3: { host: '127.0.0.1:2399' } }, namespace: '/customnamespace' });
    expect(parseDcsUrl('consul://c1:8501')).toEqual({ sections: { consul: { host: 'c1:8501' } } });
    expect(parseDcsUrl('zookeeper://zk')).toEqual({ sections: { zookeeper: { hosts: ['zk:2181'] } } });
    expect(parseDcsUrl('exhibitor://ex:8182')).toEqual({ sections: { exhibitor: { hosts: ['ex'], port: 8182 } } });
  });

  it('fills defaults: localhost, the scheme port, the scheme from a well-known port', () => {
    expect(parseDcsUrl('etcd3://:2399').sections).toEqual({ etcd3: { host: 'localhost:2399' } });
    expect(parseDcsUrl('etcd3://h').sections).toEqual({ etcd3: { host: 'h:2379' } });
    expect(parseDcsUrl('h:8500').sections).toEqual({ consul: { host: 'h:8500' } });
    expect(parseDcsUrl('h:2181').sections).toEqual({ zookeeper: { hosts: ['h:2181'] } });
    // etcd (v2) is patronictl's default scheme; pgha talks etcd v3 to the same servers.
    expect(parseDcsUrl('').sections).toEqual({ etcd3: { host: 'localhost:2379' } });
    expect(parseDcsUrl('etcd://e1').sections).toEqual({ etcd3: { host: 'e1:2379' } });
    expect(parseDcsUrl('etcd3://h:1/').namespace).toBeUndefined();
  });

  it('rejects unknown schemes with patronictl\'s message', () => {
    expect(() => parseDcsUrl('redis://h:1')).toThrow(CtlError);
    expect(() => parseDcsUrl('redis://h:1')).toThrow('Unknown dcs scheme: redis');
  });

  it('replaces every DCS section and the namespace of the configuration', () => {
    const config = { scope: 'demo', namespace: '/old', consul: { host: 'x' }, etcd3: { hosts: 'a:1,b:2' }, raft: { self_addr: 'r' }, restapi: { listen: ':8008' } };
    expect(applyDcsUrl(config, 'etcd3://10.0.0.1:2379/service')).toEqual({
      scope: 'demo', namespace: '/service', etcd3: { host: '10.0.0.1:2379' }, restapi: { listen: ':8008' },
    });
    expect(applyDcsUrl(config, 'etcd3://10.0.0.1:2379').namespace).toBe('/old');
  });

  it('takes kubernetes://[CONTEXT][/NAMESPACE] and keeps the configuration\'s kubernetes labels', () => {
    expect(parseDcsUrl('kubernetes://')).toEqual({ sections: { kubernetes: {} } });
    expect(parseDcsUrl('kubernetes:///db')).toEqual({ sections: { kubernetes: { namespace: 'db' } } });
    expect(parseDcsUrl('kubernetes://prod/db/')).toEqual({ sections: { kubernetes: { context: 'prod', namespace: 'db' } } });
    expect(() => parseDcsUrl('kubernetes://prod:6443/db')).toThrow(/kubernetes:\/\/\[CONTEXT\]\[\/NAMESPACE\]/);
    const config = { scope: 'demo', namespace: '/service', kubernetes: { labels: { application: 'pgha' }, namespace: 'old', use_endpoints: true }, etcd3: { host: 'x' } };
    expect(applyDcsUrl(config, 'kubernetes:///db')).toEqual({
      scope: 'demo', namespace: '/service', kubernetes: { labels: { application: 'pgha' }, namespace: 'db', use_endpoints: true },
    });
  });
});
