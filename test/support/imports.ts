/** The imports of the project's files, read with TypeScript's parser (nothing is loaded or run). */
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";
import { PROJECT_DIR } from "./program";

/**
 * The module names a file imports: imports and re-exports (type-only ones only with `types`),
 * require(), require.resolve(), import().
 */
export function specifiers(file: string, { types }: { types: boolean }): string[] {
    const source = ts.createSourceFile(file, fs.readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
    const found: string[] = [];
    const literal = (node: ts.Node | undefined) => (node && ts.isStringLiteralLike(node) ? node.text : undefined);
    const visit = (node: ts.Node): void => {
        if (ts.isImportDeclaration(node)) {
            const clause = node.importClause;
            const bindings = clause?.namedBindings;
            const onlyTypes = clause !== undefined && (clause.isTypeOnly || (!clause.name && bindings !== undefined && ts.isNamedImports(bindings) && bindings.elements.length > 0 && bindings.elements.every((e) => e.isTypeOnly)));
            if (types || !onlyTypes) found.push(literal(node.moduleSpecifier)!);
        } else if (ts.isExportDeclaration(node) && node.moduleSpecifier) {
            if (types || !node.isTypeOnly) found.push(literal(node.moduleSpecifier)!);
        } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
            if (types || !node.isTypeOnly) found.push(literal(node.moduleReference.expression)!);
        } else if (ts.isCallExpression(node)) {
            const callee = node.expression;
            const isRequire = ts.isIdentifier(callee) && callee.text === "require";
            const isResolve = ts.isPropertyAccessExpression(callee) && ts.isIdentifier(callee.expression) && callee.expression.text === "require" && callee.name.text === "resolve";
            const isImport = callee.kind === ts.SyntaxKind.ImportKeyword;
            const name = literal(node.arguments[0]);
            if ((isRequire || isResolve || isImport) && name !== undefined) found.push(name);
        }
        ts.forEachChild(node, visit);
    };
    visit(source);
    return found;
}

/** The project file a relative specifier loads, as Node (and ts-node, for .ts) finds it. */
export function resolveRelative(from: string, specifier: string): string {
    const base = path.resolve(path.dirname(from), specifier);
    const candidates = [base, ...[".ts", ".js", ".json"].map((ext) => base + ext), ...["index.ts", "index.js"].map((f) => path.join(base, f))];
    const file = candidates.find((c) => fs.existsSync(c) && fs.statSync(c).isFile());
    if (!file) throw new Error(`${path.relative(PROJECT_DIR, from)} loads ${specifier}, which resolves to no file`);
    return file;
}

