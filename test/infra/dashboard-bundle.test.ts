import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { App, Duration, Stack } from 'aws-cdk-lib';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { FunnelFunction } from '../../infra/lib/function.js';
import { DASHBOARD_MODULES } from '../../functions/api/dashboard-routes.js';
import { repoPath } from '../../infra/lib/paths.js';

/**
 * `cdk deploy` ships the dashboard inside the api function's bundle: the api function bundled for real
 * (local esbuild, as `cdk synth` does it), the page's folder copied beside the handler, and the bundled
 * handler, run here, serves `GET /` and the scripts from it.
 */
let outdir: string;
const savedEnv = { ...process.env };
afterAll(async () => {
  process.env = savedEnv;
  if (outdir) await rm(outdir, { recursive: true, force: true });
});

describe('the api bundle', () => {
  it('carries the dashboard and serves it from there', async () => {
    outdir = await mkdtemp(join(tmpdir(), 'funnel-bundle-'));
    const app = new App({ outdir });
    const stack = new Stack(app, 'Bundle');
    new FunnelFunction(stack, 'Api', {
      entry: 'functions/api/handler.ts',
      description: 'the api, bundled as infra/lib/api.ts does',
      timeout: Duration.seconds(15),
      memorySize: 1024,
      environment: {},
      bundleFolders: ['functions/api/dashboard'],
    });
    app.synth();
    const assets = (await readdir(outdir)).filter((name) => name.startsWith('asset.'));
    const bundle = assets.map((name) => join(outdir, name)).find(Boolean)!;
    expect(await stat(join(bundle, 'index.mjs'))).toBeTruthy();
    const shipped = (await readdir(join(bundle, 'dashboard'))).sort();
    expect(shipped).toEqual((await readdir(repoPath('functions/api/dashboard'))).sort());
    expect(await readFile(join(bundle, 'dashboard', 'index.html'), 'utf8')).toBe(await readFile(repoPath('functions/api/dashboard/index.html'), 'utf8'));

    // The bundled handler, with the environment the stack gives it (nothing here calls AWS: the page is a file).
    Object.assign(process.env, {
      AWS_REGION: 'us-east-1',
      COUNTERS_TABLE: 'funnel-counters',
      FACTS_BUCKET: 'funnel-facts',
      JOBS_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/jobs',
      QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/ingest',
      APP_API_KEYS_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:keys',
    });
    const { handler } = (await import(pathToFileURL(join(bundle, 'index.mjs')).href)) as { handler: (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2> };
    const get = (path: string) => handler({ rawPath: path, headers: {}, requestContext: { http: { method: 'GET', sourceIp: '192.0.2.7' }, requestId: 'bundle-test' } } as unknown as APIGatewayProxyEventV2, { awsRequestId: 'bundle-test' } as Context);
    const page = await get('/');
    expect([page.statusCode, page.headers?.['content-type']]).toEqual([200, 'text/html; charset=utf-8']);
    expect(page.body).toContain('/dashboard/main.js');
    for (const name of DASHBOARD_MODULES) expect((await get(`/dashboard/${name}.js`)).statusCode).toBe(200);
    // and no stream in AWS: the page falls back to polling
    expect((await get('/api/analytics/stream')).statusCode).toBe(404);
  }, 120_000);
});
