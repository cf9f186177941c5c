// Starts a machine thread: registers tsx so the thread can load the TypeScript machine code, as the
// main thread does (Node 20 does not apply `--import tsx` from a Worker's execArgv before its entry).
import { register } from 'tsx/esm/api';

register();
await import('./thread.ts');
