import { connectionContract } from './connection-contract.js';
import { ampFactory } from './harnesses.js';

connectionContract('AMP (MasterConnection over an in-memory duplex pair)', ampFactory);
