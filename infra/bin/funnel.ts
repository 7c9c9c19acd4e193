#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { FunnelStack } from '../lib/funnel-stack.js';

const app = new App();

// No env: the stack is environment-agnostic, so `cdk synth` needs no credentials; `cdk deploy`
// targets the account and region of the current AWS profile.
new FunnelStack(app, String(app.node.tryGetContext('stackName') ?? 'Funnel'), {
  description: 'Funnel: serverless analytics for Nostr (listener, ingest, facts, counters, API)',
});

// cdk-nag (AwsSolutions) as a policy-validation plugin: any unacknowledged finding fails the synth
// (and so `cdk deploy`). Acknowledgments, each with its reason, live next to the resources they cover.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));

app.synth();
