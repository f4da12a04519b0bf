/** Tests against a real Docker engine: they build images and start containers. */
/** @type {import('jest').Config} */
module.exports = {
  preset: "ts-jest",
  testEnvironment: "node",
  roots: ["<rootDir>/test/e2e"],
  testMatch: ["**/*.e2e.test.ts"],
  // The real `pulumi up` suite has its own config (npm run test:pulumi): it needs the Pulumi CLI
  // and pulls the real images, so it runs in the pull-request workflow, not here.
  testPathIgnorePatterns: ["/node_modules/", "/pulumi-up\\.e2e\\.test\\.ts$", "/pulumi-cli\\.e2e\\.test\\.ts$"],
  testTimeout: 600000,
  // The images every suite runs on are built once, before the suites start side by side, and the
  // engine is made a swarm then; it leaves the swarm once they are all done.
  globalSetup: "<rootDir>/test/e2e/support/globalSetup.ts",
  globalTeardown: "<rootDir>/test/e2e/support/globalTeardown.ts",
  // The suites share no container, network, volume or host port (the dev and prod stacks have
  // their own names and ports by design), so they run two at a time on the two cores here.
  maxWorkers: 2,
};
