/**
 * Descriptor arguments without Twisted: the errors when they cannot travel (no addon, a connection
 * that does not pass descriptors), and ampstate to ampstate over a `fds=yes` UNIX socket.
 */
import { closeSync, openSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AmpConnection } from '../../actors/amp-connection.js';
import { connect, listen, type AmpServer } from '../../actors/connect.js';
import { EndpointSyntaxError, parseClientEndpoint, parseServerEndpoint } from '../../actors/endpoint.js';
import { createMemoryPair } from '../../actors/memory-pair.js';
import { responders } from '../../actors/responders.js';
import { DescriptorAddonMissingError, loadUsocket } from '../../actors/unix-fd-socket.js';
import { amp, defineCommand, DescriptorsUnavailableError, InvalidArgumentError, type Schema } from '../../codec/index.js';
import { describeWithPeer, type PeerAvailability } from '../support/describe-with-peer.js';
import { temporaryDirectory } from '../support/temp-directory.js';

const ReadFiles = defineCommand({
  name: 'ReadFiles',
  arguments: { first: amp.Descriptor, second: amp.Descriptor.optional() },
  response: { text: amp.Unicode },
});

function addonAvailability(): PeerAvailability {
  try {
    loadUsocket();
    return { available: true, reason: '' };
  } catch (error) {
    return { available: false, reason: (error as Error).message };
  }
}

function readAll(fd: number): string {
  const buffer = Buffer.alloc(256);
  const count = readSync(fd, buffer, 0, buffer.length, 0);
  return buffer.subarray(0, count).toString();
}

describe('Descriptor arguments where descriptors cannot travel', () => {
  it('names the missing addon with a stable code when usocket cannot be loaded', () => {
    const absent = (name: string) => {
      throw Object.assign(new Error(`Cannot find module '${name}'`), { code: 'MODULE_NOT_FOUND' });
    };
    const attempt = () => loadUsocket(absent);
    expect(attempt).toThrow(DescriptorAddonMissingError);
    expect(attempt).toThrow(/usocket/);
    try {
      attempt();
    } catch (error) {
      expect((error as DescriptorAddonMissingError).code).toBe('AMP_ERR_USOCKET_MISSING');
    }
  });

  it('refuses a Descriptor on a connection that does not pass descriptors, synchronously', async () => {
    const [a, b] = createMemoryPair();
    const client = new AmpConnection(a);
    const server = new AmpConnection(b, { role: 'server' });
    expect(() => client.callRemote(ReadFiles, { first: 0 })).toThrow(DescriptorsUnavailableError);
    client.close();
    await Promise.all([client.closed, server.closed]);
  });

  it('refuses to encode a bare descriptor in the codec, which has no socket to send it on', () => {
    const attempt = () => ReadFiles.encodeRequest('1', { first: 0 });
    expect(attempt).toThrow(InvalidArgumentError);
    try {
      attempt();
    } catch (error) {
      expect((error as Error).cause).toBeInstanceOf(DescriptorsUnavailableError);
    }
  });

  it('parses fds=yes on unix endpoints, and nothing but yes or no', () => {
    expect(parseClientEndpoint('unix:path=/tmp/a.sock:fds=yes')).toEqual({ kind: 'unix', path: '/tmp/a.sock', passDescriptors: true });
    expect(parseServerEndpoint('unix:/tmp/a.sock:fds=no')).toEqual({ kind: 'unix', path: '/tmp/a.sock', passDescriptors: false });
    expect(() => parseClientEndpoint('unix:/tmp/a.sock:fds=1')).toThrow(EndpointSyntaxError);
  });
});

describeWithPeer('Descriptor arguments between ampstate peers (usocket)', addonAvailability(), () => {
  let server: AmpServer | undefined;
  let client: AmpConnection | undefined;
  const opened: number[] = [];

  afterEach(async () => {
    client?.close();
    await client?.closed;
    await server?.close({ closeConnections: true });
    for (const fd of opened.splice(0)) closeSync(fd);
  });

  async function pair(table: ReturnType<typeof responders>): Promise<AmpConnection> {
    const path = join(temporaryDirectory('ampstate-fds-'), 'amp.sock');
    server = await listen(`unix:path=${path}:fds=yes`, { responders: table });
    client = await connect(`unix:path=${path}:fds=yes`);
    return client;
  }

  function fileWith(directory: string, name: string, text: string): number {
    const path = join(directory, name);
    writeFileSync(path, text);
    const fd = openSync(path, 'r');
    opened.push(fd);
    return fd;
  }

  it('passes two descriptors in one box; the responder reads the files through them', async () => {
    const directory = temporaryDirectory('ampstate-fds-files-');
    const connection = await pair(
      responders().on(ReadFiles, ({ first, second }) => {
        const text = readAll(first) + (second === undefined ? '' : readAll(second));
        closeSync(first);
        if (second !== undefined) closeSync(second);
        return { text };
      }),
    );
    const answer = await connection.callRemote(ReadFiles, { first: fileWith(directory, 'a', 'one,'), second: fileWith(directory, 'b', 'two') });
    expect(answer.text).toBe('one,two');
    const optional = await connection.callRemote(ReadFiles, { first: fileWith(directory, 'c', 'alone') });
    expect(optional.text).toBe('alone');
  });

  it('passes more descriptors in one box than fit in one receive (one descriptor per byte, as Twisted sends)', async () => {
    const directory = temporaryDirectory('ampstate-fds-many-');
    const count = 100;
    const schema: Record<string, typeof amp.Descriptor> = {};
    for (let i = 0; i < count; i++) schema[`fd${String(i).padStart(3, '0')}`] = amp.Descriptor;
    const Many = defineCommand({ name: 'Many', arguments: schema as Schema, response: { text: amp.Unicode } });
    const connection = await pair(
      responders().on(Many, (args) => {
        const fds = Object.values(args as Record<string, number>);
        const text = fds.map(readAll).join('');
        fds.forEach((fd) => closeSync(fd));
        return { text };
      }),
    );
    const args: Record<string, number> = {};
    for (let i = 0; i < count; i++) args[`fd${String(i).padStart(3, '0')}`] = fileWith(directory, `f${i}`, String(i % 10));
    const answer = await connection.callRemote(Many, args as never);
    expect(answer.text).toBe(Array.from({ length: count }, (_, i) => String(i % 10)).join(''));
  });
});
