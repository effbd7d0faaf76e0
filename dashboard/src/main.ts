/** The dashboard page's entry module: loads the machine graphs, then follows the farm feed. */
import { authorizedFetch } from './access.js';
import { CommandsView } from './commands-view.js';
import { required } from './dom.js';
import { followFeed } from './feed.js';
import { MachinesView } from './machines-view.js';
import { TransfersView } from './transfers-view.js';
import type { ConnectionState, FeedEvent, MachineGraph } from './wire.js';
import { WorkersView } from './workers-view.js';

const base = document.body.dataset['base'] ?? '/dashboard';
const status = required<HTMLElement>('#status');

async function start(): Promise<void> {
  const graphsResponse = await authorizedFetch(`${base}/machines.json`);
  const graphs = graphsResponse.ok ? ((await graphsResponse.json()) as Record<string, MachineGraph>) : {};
  const machines = new MachinesView(required('#actors'), required('#machine'), graphs);
  const workers = new WorkersView(required('#workers tbody'), (actorId) => machines.select(actorId));
  const commands = new CommandsView(required('#commands'));
  const transfers = new TransfersView(required('#transfers tbody'));

  const apply = (event: FeedEvent): void => {
    switch (event.type) {
      case 'workers':
        workers.replaceAll(event.workers, event.at);
        for (const worker of event.workers) machines.owned(worker.machine, worker.name);
        return;
      case 'worker-attached':
        workers.attached(event.worker, event.at);
        machines.owned(event.worker.machine, event.worker.name);
        return;
      case 'worker-detached':
        workers.detached(event.name, event.reason, event.at);
        return;
      case 'refusal':
        return;
      case 'command-started':
        workers.seen(event.worker, event.at);
        if (event.command === 'shell') commands.started(event);
        else transfers.describe(event.commandId, event.summary, event.at);
        return;
      case 'command-output':
        workers.seen(event.worker, event.at);
        commands.output(event);
        return;
      case 'command-finished':
        workers.seen(event.worker, event.at);
        commands.finished(event);
        return;
      case 'transfer-progress':
        workers.seen(event.worker, event.at);
        transfers.progress(event);
        return;
      case 'machine-snapshot':
        if (event.worker !== undefined && event.machine === 'masterConnection') workers.connectionState(event.worker, event.state as ConnectionState, event.actorId);
        machines.snapshot(event);
        return;
    }
  };
  await followFeed(`${base}/events`, { event: apply, status: (text) => (status.textContent = text) });
}

start().catch((error: unknown) => {
  status.textContent = `failed: ${(error as Error).message}`;
});
