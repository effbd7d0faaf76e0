/**
 * The dashboard's live feed: the farm's events as server-sent events. Plain SSE over the raw
 * response (no plugin): one `data:` line of JSON per event, a comment every few seconds so proxies
 * and the browser keep the stream open. The page reads it with fetch (not EventSource) so it can
 * send the admin token as a header.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FarmEvents } from '../admin/farm-events.js';
import { eventToWire, workersToWire, type WireEvent } from './wire.js';

const KEEPALIVE_MS = 15_000;

function frame(event: WireEvent): string {
  // JSON.stringify never emits a raw newline, so one data line is always enough.
  return `data: ${JSON.stringify(event)}\n\n`;
}

export function streamFarmEvents(events: FarmEvents, request: FastifyRequest, reply: FastifyReply): void {
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
    next: (event) => response.write(frame(eventToWire(event))),
    complete: () => response.end(),
  });
  const keepalive = setInterval(() => response.write(': keepalive\n\n'), KEEPALIVE_MS);
  keepalive.unref();
  request.raw.once('close', () => {
    clearInterval(keepalive);
    subscription.unsubscribe();
  });
}
