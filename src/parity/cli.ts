#!/usr/bin/env node
// Entry point of `npm run parity -- <fixtures-dir>`.
import { runParity } from './runner.js';
import { caseKinds } from './kinds/index.js';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: npm run parity -- <fixtures-dir>   (a folder laid out like ../shared/fixtures)');
  process.exit(2);
}
try {
  const r = await runParity(dir, caseKinds);
  console.log(JSON.stringify(r));
  process.exit(r.failed > 0 || r.cases === 0 ? 1 : 0);
} catch (e) {
  console.error((e as Error).message);
  console.log(JSON.stringify({ cases: 0, failed: 0, error: (e as Error).message }));
  process.exit(1);
}
