import { connectionContract } from '../contract/connection-contract.js';
import { msgpackFactory } from './msgpack-harness.js';

connectionContract('msgpack_experimental_v7 (MsgpackConnection over a loopback WebSocket)', msgpackFactory);
