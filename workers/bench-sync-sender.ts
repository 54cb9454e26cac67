// Worker: the sync_core sender of sync-round-busy and sync-round-idle (bench/machine/sync-sender.ts).
import { workerData } from 'node:worker_threads';
import { expectStart } from '../bench/machine/protocol.js';
import { prepareSyncSender } from '../bench/machine/sync-sender.js';
import { serve } from '../bench/worker-port.js';

await serve(() => prepareSyncSender(expectStart(workerData, 'sync-sender')));
