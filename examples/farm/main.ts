/**
 * `npm start`: the demo farm with two `ampstate worker` processes; exit 0 when every step worked.
 * `npm start -- --keep`: then keep it running, with its dashboard, until Ctrl-C.
 */
import { runFarm } from './farm.js';

process.exitCode = await runFarm({ keep: process.argv.includes('--keep') });
