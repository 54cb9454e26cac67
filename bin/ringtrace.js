#!/usr/bin/env node
// The CLI runs the compiled code; `npm install` builds it (the `prepare` script).
import { main } from '../dist/src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
