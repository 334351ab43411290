#!/usr/bin/env node
// The `lookalike` command (`npx lookalike …`). Runs the compiled CLI; `npm run build` (part of `npm run setup`) makes it.
const path = require('node:path');
const fs = require('node:fs');

const entry = path.join(__dirname, '..', 'dist', 'cli', 'main.js');
if (!fs.existsSync(entry)) {
  process.stderr.write('lookalike: the CLI is not built yet; run `npm run build` (or `npm run setup`) first\n');
  process.exit(1);
}
require(entry);
