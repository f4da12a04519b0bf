#!/usr/bin/env node
// Runs the stack command (stackCommand.ts) under plain Node: `node scripts/stack.js up`, or
// `npm run up` and friends, its TypeScript loaded by typescript.js.
"use strict";
const path = require("path");
require("./typescript");

require(path.join(__dirname, "stackCommand.ts"))
    .main()
    .catch((err) => {
        console.error(err);
        process.exitCode = 1;
    });
