/**
 * The real Pulumi CLI through the Automation API (test/e2e/pulumi-up.e2e.test.ts): a throwaway
 * stack brought up with the real images, checked, previewed, refreshed, destroyed and brought
 * back. Its own config so that it builds none of the stand-in images jest.e2e.config.js's
 * globalSetup builds (it pulls what the stack names); jest.e2e.config.js leaves it out.
 */
/** @type {import('jest').Config} */
module.exports = {
  preset: "ts-jest",
  testEnvironment: "node",
  roots: ["<rootDir>/test/e2e"],
  testMatch: ["**/pulumi-up.e2e.test.ts", "**/pulumi-cli.e2e.test.ts"],
  testTimeout: 1800000,
};
