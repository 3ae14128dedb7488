// Entry point of a worker process: the primary forks this file (see primary.ts).
import { runWorker } from './worker.js';

runWorker();
