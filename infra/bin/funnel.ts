#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { FunnelStack } from '../lib/funnel-stack.js';

const app = new App();

// No env: the stack is environment-agnostic, so `cdk synth` needs no credentials; `cdk deploy`
// targets the account and region of the current AWS profile.
new FunnelStack(app, String(app.node.tryGetContext('stackName') ?? 'Funnel'), {
  description: 'Funnel: serverless analytics for Nostr (listener, ingest, facts, counters, API)',
});

app.synth();
