// Lint for the Pulumi program, its policy pack and the tests (type-aware), and for the app's JavaScript.
import js from "@eslint/js";
import pulumi from "@pulumi/eslint-plugin";
import tseslint from "typescript-eslint";

export default tseslint.config(
    { ignores: ["node_modules/", ".pulumi/", "reports/", "app/node_modules/"] },
    js.configs.recommended,
    {
        files: ["**/*.ts"],
        extends: [tseslint.configs.recommendedTypeChecked],
        languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
        plugins: { "@pulumi": pulumi },
        rules: {
            // An Output inside a template string becomes "Calling [toString] on an [Output<T>]...": use pulumi.interpolate.
            "@pulumi/no-output-in-template-literal": "error",
            "@pulumi/no-output-instance-in-template-literal": "error",
            // An un-awaited promise (setMocks, a build) fails silently or out of order.
            "@typescript-eslint/no-floating-promises": "error",
            eqeqeq: ["error", "smart"],
            curly: ["error", "multi-line"],
            "prefer-const": "error",
        },
    },
    {
        // Tests read the mocks' recorded inputs, which are untyped by nature.
        files: ["test/**/*.ts"],
        rules: {
            "@typescript-eslint/no-explicit-any": "off",
            "@typescript-eslint/no-unsafe-assignment": "off",
            "@typescript-eslint/no-unsafe-member-access": "off",
            "@typescript-eslint/no-unsafe-call": "off",
            "@typescript-eslint/no-unsafe-return": "off",
            "@typescript-eslint/no-unsafe-argument": "off",
            // Fakes implement async interfaces without awaiting anything.
            "@typescript-eslint/require-await": "off",
        },
    },
    {
        files: ["**/*.js", "**/*.mjs"],
        languageOptions: {
            sourceType: "commonjs",
            globals: { require: "readonly", module: "writable", process: "readonly", console: "readonly", __dirname: "readonly", Buffer: "readonly", setTimeout: "readonly", clearTimeout: "readonly", fetch: "readonly", AbortSignal: "readonly", AbortController: "readonly", URL: "readonly", setInterval: "readonly", clearInterval: "readonly" },
        },
    },
    { files: ["**/*.mjs"], languageOptions: { sourceType: "module" } },
);
