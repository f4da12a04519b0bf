/** Unit and mock tests: no Docker engine, no network, a few seconds. */
/** @type {import('jest').Config} */
module.exports = {
  // ts-jest transpiles each file on its own, without type checking (`isolatedModules` in
  // tsconfig.json); `npm run build` (tsc --noEmit) is the type check.
  preset: "ts-jest",
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  testPathIgnorePatterns: ["/node_modules/", "<rootDir>/test/e2e/"],
  // One worker per core (Jest's default leaves one core to its own process, which here mostly waits).
  maxWorkers: "100%",
  // Cheaper Pulumi SDK loads for the many program runs (see the file).
  setupFilesAfterEnv: ["<rootDir>/test/support/jestSetup.ts"],
};
