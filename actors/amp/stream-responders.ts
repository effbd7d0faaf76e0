import { StreamClose, StreamOpen, StreamWrite } from '../../codec/protocols/streams.js';
import type { Responder, TypedEntry } from '../responders.js';
import type { StreamRegistry } from './stream-registry.js';

/**
 * The receiving connection's built-in answers to the stream commands (docs/amp-protocol.md §3.7);
 * a responder registered for the same name (trial's manager does) takes precedence.
 */
export function streamResponders(registry: StreamRegistry): ReadonlyMap<string, TypedEntry> {
  const entry = <C extends TypedEntry['command']>(command: C, handler: Responder<C>): [string, TypedEntry] => [
    command.name,
    { command, handler: handler as TypedEntry['handler'] },
  ];
  return new Map([
    entry(StreamOpen, () => ({ streamId: registry.open() })),
    entry(StreamWrite, ({ streamId, data }) => {
      const credit = registry.write(streamId, data);
      return credit === undefined ? {} : credit.then(() => ({}));
    }),
    entry(StreamClose, ({ streamId, failure }) => {
      registry.close(streamId, failure);
      return {};
    }),
  ]);
}
