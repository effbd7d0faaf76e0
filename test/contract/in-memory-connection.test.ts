import { connectionContract } from './connection-contract.js';
import { inMemoryFactory } from './harnesses.js';

connectionContract('InMemoryConnection', inMemoryFactory);
