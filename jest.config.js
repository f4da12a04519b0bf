/** Unit and mock tests: no Docker engine, no network, a few seconds. */
/** @type {import('jest').Config} */
module.exports = {
  preset: "ts-jest",
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  testPathIgnorePatterns: ["/node_modules/", "<rootDir>/test/e2e/"],
  // One worker per core (Jest's default leaves one core to its own process, which here mostly waits).
  maxWorkers: "100%",
  setupFilesAfterEnv: ["<rootDir>/test/support/jestSetup.ts"],
};
