/** Jest runs TypeScript through ts-jest in transpile-only mode; `npm test` type-checks with tsc first. */
module.exports = {
  testEnvironment: "node",
  // Jest 30 deletes globals between test files, which breaks @pulumi/pulumi's runtime state.
  testEnvironmentOptions: { globalsCleanup: "off" },
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] },
  moduleFileExtensions: ["ts", "js", "json"],
  testTimeout: 120000,
  maxWorkers: 2,
};
