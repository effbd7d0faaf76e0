/**
 * Reads the server-sent events of the farm feed with fetch (EventSource cannot send the token
 * header), and reconnects after a drop; the first event after each connection is the full list
 * of workers, so nothing needs replaying.
 */
import { authorizedFetch } from './access.js';
import type { FeedEvent } from './wire.js';

const RECONNECT_MS = 2000;

export interface FeedHandlers {
  readonly event: (event: FeedEvent) => void;
  readonly status: (status: string) => void;
}

async function readOnce(url: string, handlers: FeedHandlers): Promise<void> {
  const response = await authorizedFetch(url, { headers: { accept: 'text/event-stream' } });
  if (!response.ok || response.body === null) throw new Error(`the feed answered ${response.status}`);
  handlers.status('live');
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffered += value;
    let end: number;
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const message = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const data = message
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).trimStart())
        .join('\n');
      if (data !== '') handlers.event(JSON.parse(data) as FeedEvent);
    }
  }
}

export async function followFeed(url: string, handlers: FeedHandlers): Promise<never> {
  for (;;) {
    try {
      await readOnce(url, handlers);
      handlers.status('feed ended; reconnecting…');
    } catch (error) {
      handlers.status(`disconnected (${(error as Error).message}); reconnecting…`);
    }
    await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS));
  }
}
