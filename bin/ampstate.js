#!/usr/bin/env node
// The published entry point: the CLI itself is TypeScript, compiled to dist/ by `npm ci` (prepare).
import('../dist/bin/cli.js').catch((error) => {
  process.stderr.write(`ampstate: could not start (${error.message}); run "npm run build" first\n`);
  process.exit(2);
});
