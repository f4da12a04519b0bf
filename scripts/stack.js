#!/usr/bin/env node
// Runs the stack command (stackCommand.ts) under plain Node: `node scripts/stack.js up`, or
// `npm run up` and friends. TypeScript files are transpiled as they load, with the project's own
// TypeScript and no type check (`npm run build` checks them with the rest of the project).
"use strict";
const fs = require("fs");
const path = require("path");

let ts;
try {
    ts = require("typescript");
    require.resolve("@pulumi/pulumi/automation");
} catch {
    console.error("The project's dependencies are not installed: run `npm ci` first.");
    process.exit(1);
}

const compilerOptions = {
    module: ts.ModuleKind.CommonJS,
    target: ts.ScriptTarget.ES2022,
    esModuleInterop: true,
    inlineSourceMap: true,
};
require.extensions[".ts"] = (module, filename) => {
    const { outputText } = ts.transpileModule(fs.readFileSync(filename, "utf8"), { fileName: filename, compilerOptions });
    module._compile(outputText, filename);
};
// Errors point at the TypeScript lines.
process.setSourceMapsEnabled(true);

require(path.join(__dirname, "stackCommand.ts"))
    .main()
    .catch((err) => {
        console.error(err);
        process.exitCode = 1;
    });
