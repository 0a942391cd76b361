/**
 * Entry point of a loader worker thread: decodes batch jobs and posts the results back,
 * transferring the pixel buffers. One libvips thread per worker (threads = workers).
 */
import { parentPort, workerData } from 'node:worker_threads';
import sharp from 'sharp';
import { type BatchJob, decodeBatch } from './batch.js';

const port = parentPort;
if (port === null) throw new Error('loader-worker.js must run in a worker thread');

const data = (workerData ?? {}) as { sharpConcurrency?: number };
sharp.concurrency(data.sharpConcurrency ?? 1);
// Inputs are buffers read once; libvips' operation cache would only hold memory.
sharp.cache(false);

port.on('message', (job: BatchJob) => {
  void decodeBatch(job).then(
    (res) => {
      if (res.ok) port.postMessage(res, [res.images.buffer as ArrayBuffer, res.masks.buffer as ArrayBuffer]);
      else port.postMessage(res);
    },
    (err: unknown) => {
      port.postMessage({
        id: job.id,
        ok: false,
        item: 0,
        file: job.items[0]?.image ?? '<batch>',
        reason: `worker failure: ${err instanceof Error ? err.message : String(err)}`,
      });
    },
  );
});
