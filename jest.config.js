/**
 * Two projects: `unit` (fakes allowed, no services) and `integration` (real Elasticsearch, Redis and ONNX Runtime,
 * started by `npm run services:up`). Type checking is `npm run typecheck`; tests transpile only, for speed.
 */
const transform = { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] };

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    {
      displayName: 'unit',
      testEnvironment: '<rootDir>/tests/jest-environment.js',
      roots: ['<rootDir>/tests/unit'],
      testMatch: ['**/*.test.ts'],
      transform,
    },
    {
      displayName: 'integration',
      testEnvironment: '<rootDir>/tests/jest-environment.js',
      roots: ['<rootDir>/tests/integration'],
      testMatch: ['**/*.test.ts'],
      transform,
      // jest.setup.ts sets the long timeout (jest 30 ignores `testTimeout` inside a project: it is a global option);
      // validate-responses.setup.ts checks every API response against the OpenAPI document.
      setupFilesAfterEnv: ['<rootDir>/tests/integration/jest.setup.ts', '<rootDir>/tests/integration/validate-responses.setup.ts'],
      slowTestThreshold: 30,
    },
  ],
};
