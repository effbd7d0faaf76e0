/** `npm start`: the demo farm with two `ampstate worker` processes; exit 0 when every step worked. */
import { runFarm } from './farm.js';

process.exitCode = await runFarm();
