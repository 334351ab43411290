/**
 * The integration project's long default timeout. jest 30 reads `testTimeout` from the global configuration only, so
 * a `testTimeout` inside a project entry of jest.config.js is silently ignored and every test would get 5 s.
 */
jest.setTimeout(120_000);
