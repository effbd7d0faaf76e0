/** The master's configuration file: what it accepts, and the TLS endpoint it derives. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseServerEndpoint } from '../../actors/endpoint.js';
import { PasswordHash } from '../../actors/master/password-hash.js';
import { ampListenEndpoint, MasterServiceConfigError, readMasterConfig, type MasterServiceConfig } from '../../actors/master/service/config.js';
import { temporaryDirectory } from '../support/temp-directory.js';

const base: MasterServiceConfig = { listen: 'tcp:9989', masterBasedir: 'files', workers: {} };

describe('ampListenEndpoint', () => {
  it('keeps a plain endpoint, and serves TLS on the same port and interface when a certificate is configured', () => {
    expect(ampListenEndpoint(base)).toBe('tcp:9989');
    const tls = ampListenEndpoint({ ...base, listen: 'tcp:9989:interface=0.0.0.0', tls: { certificate: '/etc/a:b.pem', privateKey: '/etc/key.pem' } });
    expect(parseServerEndpoint(tls)).toMatchObject({ kind: 'tls', host: '0.0.0.0', port: 9989, certificate: '/etc/a:b.pem', privateKey: '/etc/key.pem' });
  });
});

describe('readMasterConfig', () => {
  const dir = temporaryDirectory('ampstate-master-config-');
  const write = (config: unknown) => writeFileSync(join(dir, 'ampstate-master.json'), JSON.stringify(config));

  it('reads a config with hashed passwords', async () => {
    write({ ...base, workers: { w1: { passwordHash: PasswordHash.create('pw').toString() } } });
    expect(Object.keys((await readMasterConfig(dir)).workers)).toEqual(['w1']);
  });

  it('refuses a worker with a plain password instead of a hash, a bad endpoint, a missing file', async () => {
    write({ ...base, workers: { w1: { password: 'pw' } } });
    await expect(readMasterConfig(dir)).rejects.toThrow(/worker "w1" has no "passwordHash"/);
    write({ ...base, workers: { w1: { passwordHash: 'pw' } } });
    await expect(readMasterConfig(dir)).rejects.toThrow(MasterServiceConfigError);
    write({ ...base, dashboard: 'carrier-pigeon:1' });
    await expect(readMasterConfig(dir)).rejects.toThrow(/"dashboard"/);
    await expect(readMasterConfig(join(dir, 'nowhere'))).rejects.toThrow(/ampstate master create/);
  });
});
