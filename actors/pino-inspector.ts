import type { InspectionEvent } from 'xstate';
import { defaultLogger, type Logger } from './logger.js';

/**
 * An xstate inspector that logs every machine transition as one structured pino line, for watching
 * the machines without a browser: `AMPSTATE_TRACE_MACHINES=1` or `--trace-machines`.
 */
export function createPinoInspector(logger: Logger = defaultLogger, level: 'info' | 'debug' = 'info'): (event: InspectionEvent) => void {
  // Asking for a trace is asking to see it: the trace lines get the level they need even when the
  // logger is quieter (the default logger says only warnings).
  const log = logger.isLevelEnabled(level) ? logger.child({ component: 'machines' }) : logger.child({ component: 'machines' }, { level });
  return (event) => {
    if (event.type !== '@xstate.snapshot') return;
    const snapshot = event.snapshot as { value?: unknown; status?: string; machine?: { id?: string } };
    const machine = snapshot.machine?.id ?? 'actor';
    log[level](
      {
        machine,
        actor: event.actorRef.sessionId,
        event: event.event.type,
        state: snapshot.value,
        status: snapshot.status,
      },
      `${machine}: ${event.event.type} → ${JSON.stringify(snapshot.value)}`,
    );
  };
}

/** The inspector to use when the caller gave none: the pino one if tracing is switched on by env. */
export function inspectorFromEnvironment(): ((event: InspectionEvent) => void) | undefined {
  const flag = process.env.AMPSTATE_TRACE_MACHINES;
  if (flag === undefined || flag === '' || flag === '0') return undefined;
  environmentInspector ??= createPinoInspector();
  return environmentInspector;
}

let environmentInspector: ((event: InspectionEvent) => void) | undefined;
