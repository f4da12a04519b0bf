// Loads the project's TypeScript files under plain Node (`require("./typescript")`, or
// `node -r ./scripts/typescript.js file.ts`): each is transpiled as it loads, with the project's own
// TypeScript and no type check (`npm run build` checks them with the rest of the project).
"use strict";
const fs = require("fs");

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
