#!/usr/bin/env node
// The `funnel` CLI runs the TypeScript sources directly through tsx: no build step before `npm start`.
import { register } from 'tsx/esm/api';

// Locally Node 20 is expected (Lambda runs 22); the SDK's Node-version notice is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
register();
await import('./cli.ts');
