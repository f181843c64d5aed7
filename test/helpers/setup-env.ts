// Offline CDK: no telemetry, no version check; s3rver needs the legacy OpenSSL provider for
// DeleteObjects and listings past 1,000 keys (npm scripts set NODE_OPTIONS for that).
process.env.CDK_DISABLE_CLI_TELEMETRY = 'true';
process.env.CDK_DISABLE_VERSION_CHECK = '1';
