#!/usr/bin/env node
// A git checkout needs `npm run build` before the CLI exists (the npm
// package ships it built); say so in one line rather than with a stack trace.
let main;
try {
  ({ main } = await import('../dist/cli/main.js'));
} catch (err) {
  if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.message).includes('dist/cli/main.js')) throw err;
  console.error('docker-patcher: not built yet: run `npm run build` in the docker-patcher checkout first');
  process.exit(1);
}
process.exitCode = await main(process.argv);
