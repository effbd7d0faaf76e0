/**
 * The dashboard's live feed: the farm's events as server-sent events. Plain SSE over the raw
 * response (no plugin): one `data:` line of JSON per event, a comment every few seconds so proxies
 * and the browser keep the stream open. The page reads it with fetch (not EventSource) so it can
 * send the admin token as a header.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../../logger.js';
import type { FarmEvents } from '../admin/farm-events.js';
import { eventToWire, workersToWire, type WireEvent } from './wire.js';

const KEEPALIVE_MS = 15_000;
/**
 * A page that reads slower than the farm talks is dropped once this much is queued for it, rather
 * than growing the master's memory; it reconnects and starts again from the workers list.
 */
const MAX_QUEUED_BYTES = 4 * 1024 * 1024;

function frame(event: WireEvent): string {
  // JSON.stringify never emits a raw newline, so one data line is always enough.
  return `data: ${JSON.stringify(event)}\n\n`;
}

export function streamFarmEvents(events: FarmEvents, request: FastifyRequest, reply: FastifyReply, logger: Logger): void {
  reply.hijack();
  const response = reply.raw;
  response.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  response.write(frame(workersToWire(events.workers())));
  const subscription = events.events$.subscribe({
    next: (event) => {
      if (response.writableLength > MAX_QUEUED_BYTES) {
        logger.warn({ remote: request.ip, queuedBytes: response.writableLength }, 'dashboard feed dropped: the page is not keeping up');
        subscription.unsubscribe();
        response.destroy();
        return;
      }
      response.write(frame(eventToWire(event)));
    },
    complete: () => response.end(),
  });
  const keepalive = setInterval(() => response.write(': keepalive\n\n'), KEEPALIVE_MS);
  keepalive.unref();
  request.raw.once('close', () => {
    clearInterval(keepalive);
    subscription.unsubscribe();
  });
}
