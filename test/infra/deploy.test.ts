import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONTEXT_DEFAULTS } from '../../infra/lib/config.js';
import { FunnelStack } from '../../infra/lib/funnel-stack.js';
import { LISTENER_HEALTH_COMMAND } from '../../infra/lib/listener.js';
import { METRIC_DIMENSIONS } from '../../infra/lib/ops.js';
import { repoPath } from '../../infra/lib/paths.js';
import { EmfMetrics } from '../../lib/adapters/aws/powertools.js';
import { METRIC, METRICS, METRICS_NAMESPACE } from '../../lib/metrics/names.js';
import { cdkJsonContext, flat, logicalId, resource, resourcesOf, statementsOf, synth, testApp, type Resource } from './synth.js';

const { stack, template } = synth();
const ids = {
  queue: logicalId(stack, stack.ingest.queue),
  dlq: logicalId(stack, stack.ingest.deadLetterQueue),
  jobsDlq: logicalId(stack, stack.jobs.deadLetterQueue),
  liveQueue: logicalId(stack, stack.live.queue),
  liveDlq: logicalId(stack, stack.live.deadLetterQueue),
  settleDlq: logicalId(stack, stack.compactor.settleDeadLetterQueue),
  httpApi: logicalId(stack, stack.api.httpApi),
  secret: logicalId(stack, stack.api.appApiKeys),
  topic: logicalId(stack, stack.ops.alarmTopic),
  key: logicalId(stack, stack.ops.alarmKey),
  taskDef: logicalId(stack, stack.listener.taskDefinition),
  cluster: logicalId(stack, stack.listener.cluster),
  vpc: logicalId(stack, stack.listener.vpc),
};
const functions = {
  Ingest: stack.ingest.fn,
  Api: stack.api.fn,
  Compactor: stack.compactor.fn,
  Jobs: stack.jobs.fn,
  Feeds: stack.feeds.fn,
};
const fnIds = Object.fromEntries(Object.entries(functions).map(([name, fn]) => [name, logicalId(stack, fn)]));
const alarms = Object.values(resourcesOf(template, 'AWS::CloudWatch::Alarm'));
const alarmOn = (metricName: string, namespace?: string) =>
  alarms.filter((a) => a.Properties.MetricName === metricName && (!namespace || a.Properties.Namespace === namespace));

describe('context', () => {
  it('cdk.json holds every context key the app reads, at its documented default', () => {
    for (const [key, value] of Object.entries(CONTEXT_DEFAULTS)) expect(cdkJsonContext[key], key).toEqual(value);
  });

  it('docs/deploy.md documents every context key with its default', () => {
    const doc = readFileSync(repoPath('docs/deploy.md'), 'utf8');
    for (const [key, value] of Object.entries(CONTEXT_DEFAULTS)) {
      const row = doc.split('\n').find((line) => line.startsWith(`| \`${key}\``));
      expect(row, `docs/deploy.md has no row for ${key}`).toBeDefined();
      if (value !== '') expect(row, key).toContain(String(value));
    }
  });

  it('without any context, the same defaults apply', () => {
    const app = testApp({ context: { 'aws:cdk:bundling-stacks': [] } });
    const bare = new FunnelStack(app, 'Bare');
    expect(bare.config).toMatchObject({
      relayUrls: CONTEXT_DEFAULTS.relayUrls.split(','),
      minuteTtlDays: 62,
      hourTtlDays: 62,
      dayTtlDays: 732,
      ingestBatchSize: 100,
      ingestBatchWindowSeconds: 5,
      jobQuotaPerHour: 20,
      apiThrottleRateLimit: 1000,
      apiThrottleBurstLimit: 2000,
      cloudFront: false,
      ingestLagAlarmSeconds: 300,
      watermarkStalenessAlarmMinutes: 90,
      dlqDepthAlarm: 1,
    });
  });

  it('refuses settings that cannot work, naming the key', () => {
    expect(() => synth({ minuteTtlDays: 90, hourTtlDays: 62 })).toThrow(/minuteTtlDays/);
    expect(() => synth({ dayTtlDays: 0 })).toThrow(/dayTtlDays/);
    expect(() => synth({ ingestBatchSize: 20_000 })).toThrow(/ingestBatchSize/);
    expect(() => synth({ ingestBatchSize: 50, ingestBatchWindowSeconds: 0 })).toThrow(/ingestBatchWindowSeconds/);
    expect(() => synth({ ingestBatchWindowSeconds: 301 })).toThrow(/ingestBatchWindowSeconds/);
    expect(() => synth({ cloudFront: 'yes' })).toThrow(/cloudFront/);
    expect(() => synth({ jobQuotaPerHour: 0 })).toThrow(/jobQuotaPerHour/);
    expect(() => synth({ dlqDepthAlarm: 'many' })).toThrow(/dlqDepthAlarm/);
  });
});

describe('functions', () => {
  it.each(Object.keys(functions))('%s: nodejs22.x on arm64, a 1-month log group, its own role with no managed policy', (name) => {
    const fn = resource(template, fnIds[name]!);
    expect(fn.Properties.Runtime).toBe('nodejs22.x');
    expect(fn.Properties.Architectures).toEqual(['arm64']);
    const logGroupId = fn.Properties.LoggingConfig.LogGroup.Ref as string;
    expect(resource(template, logGroupId).Properties.RetentionInDays).toBe(30);
    const roleId = fn.Properties.Role['Fn::GetAtt'][0] as string;
    const role = resource(template, roleId);
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    // logs: its own log group only
    const logs = statementsOf(template, roleId).filter((s) => s.Action.some((a) => a.startsWith('logs:')));
    expect(logs).toEqual([{ Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: [`\${${logGroupId}.Arn}`] }]);
  });

  // The jobs scan facts, not counters: no retention of theirs.
  it.each(Object.keys(functions).filter((name) => name !== 'Jobs'))('%s: is told the counters retention (MINUTE/HOUR/DAY_TTL_DAYS)', (name) => {
    expect(resource(template, fnIds[name]!).Properties.Environment.Variables).toMatchObject({
      MINUTE_TTL_DAYS: '62',
      HOUR_TTL_DAYS: '62',
      DAY_TTL_DAYS: '732',
    });
  });

  it('retention comes from context, the same for every function', () => {
    const { stack: s, template: t } = synth({ minuteTtlDays: 10, hourTtlDays: '90', dayTtlDays: 1000 });
    for (const fn of [s.ingest.fn, s.api.fn, s.compactor.fn, s.compactor.settleFn, s.feeds.fn]) {
      expect(resource(t, logicalId(s, fn)).Properties.Environment.Variables).toMatchObject({
        MINUTE_TTL_DAYS: '10',
        HOUR_TTL_DAYS: '90',
        DAY_TTL_DAYS: '1000',
      });
    }
  });

  it('no function is granted a wildcard action', () => {
    for (const id of Object.values(fnIds)) {
      const roleId = resource(template, id).Properties.Role['Fn::GetAtt'][0] as string;
      const actions = statementsOf(template, roleId).flatMap((s) => s.Action);
      expect(actions.filter((a) => a.includes('*')), id).toEqual([]);
    }
  });
});

describe('ingest event source', () => {
  const mapping = () =>
    Object.values(resourcesOf(template, 'AWS::Lambda::EventSourceMapping')).find(
      (m) => m.Properties.FunctionName.Ref === fnIds.Ingest,
    )!;

  it('takes batch size and window from context; the visibility timeout covers 6 function timeouts plus the window', () => {
    expect(mapping().Properties).toMatchObject({ BatchSize: 100, MaximumBatchingWindowInSeconds: 5, FunctionResponseTypes: ['ReportBatchItemFailures'] });
    const { stack: s, template: t } = synth({ ingestBatchSize: '500', ingestBatchWindowSeconds: 20 });
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: logicalId(s, s.ingest.fn) },
      BatchSize: 500,
      MaximumBatchingWindowInSeconds: 20,
    });
    const timeout = resource(t, logicalId(s, s.ingest.fn)).Properties.Timeout as number;
    expect(resource(t, logicalId(s, s.ingest.queue)).Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * timeout + 20);
  });
});

describe('api', () => {
  const stage = () => Object.values(resourcesOf(template, 'AWS::ApiGatewayV2::Stage'))[0]!;

  it('has one $default stage, throttled at 1000 rps / 2000 burst by default, with JSON access logs kept a month', () => {
    expect(Object.keys(resourcesOf(template, 'AWS::ApiGatewayV2::Stage'))).toHaveLength(1);
    const props = stage().Properties;
    expect(props).toMatchObject({
      ApiId: { Ref: ids.httpApi },
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 1000, ThrottlingBurstLimit: 2000 },
    });
    const logGroupId = props.AccessLogSettings.DestinationArn['Fn::GetAtt'][0] as string;
    expect(resource(template, logGroupId).Properties.RetentionInDays).toBe(30);
    const format = JSON.parse(props.AccessLogSettings.Format);
    expect(format).toMatchObject({ requestId: '$context.requestId', status: '$context.status', routeKey: '$context.routeKey' });
  });

  it('takes the throttling from context', () => {
    const { template: t } = synth({ apiThrottleRateLimit: 50, apiThrottleBurstLimit: '75' });
    t.hasResourceProperties('AWS::ApiGatewayV2::Stage', { DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 75 } });
  });

  it('app API keys: a generated secret whose ARN the api function gets and may read, and no other function', () => {
    const secret = resource(template, ids.secret);
    expect(secret.Type).toBe('AWS::SecretsManager::Secret');
    expect(secret.Properties.GenerateSecretString).toMatchObject({ PasswordLength: 40, ExcludePunctuation: true });
    const env = resource(template, fnIds.Api!).Properties.Environment.Variables;
    expect(env.APP_API_KEYS_SECRET_ARN).toEqual({ Ref: ids.secret });
    expect(env.JOB_QUOTA_PER_HOUR).toBe('20');
    for (const [name, id] of Object.entries(fnIds)) {
      const roleId = resource(template, id).Properties.Role['Fn::GetAtt'][0] as string;
      const reads = statementsOf(template, roleId).filter((s) => s.Action.includes('secretsmanager:GetSecretValue'));
      expect(reads.flatMap((s) => s.Resource), name).toEqual(name === 'Api' ? [`\${${ids.secret}}`] : []);
    }
    template.hasOutput('AppApiKeysSecretArn', { Value: { Ref: ids.secret } });
  });

  it('takes the job quota from context', () => {
    const { stack: s, template: t } = synth({ jobQuotaPerHour: 5 });
    expect(resource(t, logicalId(s, s.api.fn)).Properties.Environment.Variables.JOB_QUOTA_PER_HOUR).toBe('5');
  });
});

describe('cloudfront', () => {
  it('is not created by default', () => {
    template.resourceCountIs('AWS::CloudFront::Distribution', 0);
    template.resourceCountIs('AWS::CloudFront::CachePolicy', 0);
    expect(Object.keys(template.findOutputs('CdnUrl'))).toEqual([]);
  });

  it('with cloudFront=true, fronts the HTTP API, caching by the origin Cache-Control (0 to 300 s) with every query string in the key', () => {
    const { stack: s, template: t } = synth({ cloudFront: 'true' });
    const distributions = Object.values(resourcesOf(t, 'AWS::CloudFront::Distribution'));
    expect(distributions).toHaveLength(1);
    const config = distributions[0]!.Properties.DistributionConfig;
    expect(config.Origins).toHaveLength(1);
    expect(JSON.stringify(config.Origins[0].DomainName)).toContain(logicalId(s, s.api.httpApi));
    expect(config.Origins[0].CustomOriginConfig).toMatchObject({ OriginProtocolPolicy: 'https-only', OriginSSLProtocols: ['TLSv1.2'] });
    expect(config.DefaultCacheBehavior).toMatchObject({
      ViewerProtocolPolicy: 'https-only',
      AllowedMethods: ['GET', 'HEAD', 'OPTIONS', 'PUT', 'PATCH', 'POST', 'DELETE'],
      CachedMethods: ['GET', 'HEAD'],
      Compress: true,
    });
    const policy = Object.values(resourcesOf(t, 'AWS::CloudFront::CachePolicy'))[0]!.Properties.CachePolicyConfig;
    expect(policy).toMatchObject({ MinTTL: 0, DefaultTTL: 0, MaxTTL: 300 });
    expect(policy.ParametersInCacheKeyAndForwardedToOrigin.QueryStringsConfig).toEqual({ QueryStringBehavior: 'all' });
    expect(policy.ParametersInCacheKeyAndForwardedToOrigin.HeadersConfig).toEqual({ HeaderBehavior: 'whitelist', Headers: ['Origin'] });
    expect(Object.keys(t.findOutputs('CdnUrl'))).toEqual(['CdnUrl']);
  });
});

describe('listener container', () => {
  const container = resource(template, ids.taskDef).Properties.ContainerDefinitions[0];

  it('has a heartbeat health check (30 s interval, 3 retries, 60 s start period)', () => {
    expect(container.HealthCheck).toEqual({
      Command: ['CMD-SHELL', LISTENER_HEALTH_COMMAND],
      Interval: 30,
      Timeout: 5,
      Retries: 3,
      StartPeriod: 60,
    });
    expect(LISTENER_HEALTH_COMMAND).toBe(
      `node -e "const t=+require('fs').readFileSync('/tmp/listener-heartbeat','utf8'); process.exit(Date.now()-t<60000?0:1)"`,
    );
  });

  it('stops gracefully: an init process forwards SIGTERM, 30 s before SIGKILL', () => {
    expect(container.StopTimeout).toBe(30);
    expect(container.LinuxParameters).toMatchObject({ InitProcessEnabled: true });
  });

  it('restarts in place on an error exit, not after a clean one', () => {
    expect(container.RestartPolicy).toEqual({ Enabled: true, IgnoredExitCodes: [0], RestartAttemptPeriod: 60 });
    expect(container.Essential).toBe(true);
  });

  it('runs on a cluster with Container Insights, in a VPC with flow logs', () => {
    expect(resource(template, ids.cluster).Properties.ClusterSettings).toEqual([{ Name: 'containerInsights', Value: 'enabled' }]);
    template.hasResourceProperties('AWS::EC2::FlowLog', { ResourceId: { Ref: ids.vpc }, ResourceType: 'VPC', TrafficType: 'ALL' });
    template.resourceCountIs('AWS::ElasticLoadBalancingV2::LoadBalancer', 0);
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
  });

  it('Dockerfile: multi-stage, bundle only, unprivileged, SIGTERM', () => {
    const dockerfile = readFileSync(repoPath('functions/listener/Dockerfile'), 'utf8');
    expect(dockerfile.match(/^FROM /gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/^COPY --from=build .*dist\/ dist\/$/m);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^STOPSIGNAL SIGTERM$/m);
    expect(dockerfile).toMatch(/^CMD \["node", "dist\/listener\.mjs"\]$/m);
  });
});

describe('alarms', () => {
  const topicRef = { Ref: ids.topic };

  it('all go to the alarm topic, which is encrypted with a rotating key CloudWatch may use', () => {
    expect(alarms.length).toBeGreaterThan(0);
    for (const alarm of alarms) {
      expect(alarm.Properties.AlarmActions).toEqual([topicRef]);
      expect(alarm.Properties.OKActions).toEqual([topicRef]);
    }
    expect(resource(template, ids.topic).Properties.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [ids.key, 'Arn'] });
    const key = resource(template, ids.key);
    expect(key.Properties.EnableKeyRotation).toBe(true);
    expect(key.Properties.KeyPolicy.Statement).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'] }),
      ]),
    );
  });

  it('dead letters: ingest, live, settle and jobs DLQs, at dlqDepthAlarm messages', () => {
    for (const dlq of [ids.dlq, ids.liveDlq, ids.settleDlq, ids.jobsDlq]) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlq, 'QueueName'] } }],
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
    }
    const { template: t } = synth({ dlqDepthAlarm: 10 });
    const dlqAlarms = Object.values(resourcesOf(t, 'AWS::CloudWatch::Alarm')).filter(
      (a) => a.Properties.MetricName === 'ApproximateNumberOfMessagesVisible',
    );
    expect(dlqAlarms.map((a) => a.Properties.Threshold)).toEqual([10, 10, 10, 10]);
  });

  it('ingest lag: IngestLagMs p90 above ingestLagAlarmSeconds for 3 periods; and the queue age', () => {
    const [lag] = alarmOn(METRIC.ingestLagMs, METRICS_NAMESPACE);
    expect(lag!.Properties).toMatchObject({
      ExtendedStatistic: 'p90',
      Threshold: 300_000,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
    });
    expect(lag!.Properties.Dimensions).toBeUndefined();
    const ages = alarmOn('ApproximateAgeOfOldestMessage', 'AWS/SQS');
    const ageOf = (queue: string) => ages.find((a) => JSON.stringify(a.Properties.Dimensions).includes(queue))!.Properties;
    expect(ageOf(ids.queue)).toMatchObject({ Threshold: 900, Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [ids.queue, 'QueueName'] } }] });
    // A lagging live queue delays live counts only; it alarms sooner.
    expect(ageOf(ids.liveQueue)).toMatchObject({ Threshold: 300, EvaluationPeriods: 2 });
    const { template: t } = synth({ ingestLagAlarmSeconds: 120 });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: METRIC.ingestLagMs, Threshold: 120_000 });
  });

  it('watermark staleness above watermarkStalenessAlarmMinutes, or no report from the compactor', () => {
    const [stale] = alarmOn(METRIC.watermarkStalenessMs, METRICS_NAMESPACE);
    expect(stale!.Properties).toMatchObject({
      Statistic: 'Maximum',
      Threshold: 90 * 60_000,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'breaching',
    });
    const { template: t } = synth({ watermarkStalenessAlarmMinutes: 30 });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: METRIC.watermarkStalenessMs, Threshold: 30 * 60_000 });
  });

  /** The alarm whose Metrics Insights query names `metric`. */
  const metricsInsightsAlarm = (metric: string) => alarms.find((a) => JSON.stringify(a.Properties.Metrics ?? []).includes(metric))!;

  it('storage faults: StorageFaults summed over every Store, in two consecutive 5-minute periods', () => {
    expect(metricsInsightsAlarm(METRIC.storageFaults).Properties).toMatchObject({
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 2,
      DatapointsToAlarm: 2,
      TreatMissingData: 'notBreaching',
      Metrics: [{ Expression: `SELECT SUM(${METRIC.storageFaults}) FROM SCHEMA("${METRICS_NAMESPACE}", Store)`, Period: 300, ReturnData: true }],
    });
  });

  it('quarantined objects: any ObjectsQuarantined at all', () => {
    expect(metricsInsightsAlarm(METRIC.objectsQuarantined).Properties).toMatchObject({
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 1,
      Metrics: [{ Expression: `SELECT SUM(${METRIC.objectsQuarantined}) FROM SCHEMA("${METRICS_NAMESPACE}")`, Period: 300, ReturnData: true }],
    });
  });

  it('the alarms query the dimension sets the EMF lines carry', () => {
    const lines: string[] = [];
    const emf = new EmfMetrics((line: string) => lines.push(line));
    emf.count(METRIC.storageFaults, { Store: 'counters' });
    emf.count(METRIC.objectsQuarantined);
    emf.flush();
    const dimensionsOf = (name: string) =>
      lines.map((l) => JSON.parse(l)._aws.CloudWatchMetrics[0]).find((m: { Metrics: { Name: string }[] }) => m.Metrics.some((x) => x.Name === name)).Dimensions;
    expect(dimensionsOf(METRIC.storageFaults)).toEqual([METRIC_DIMENSIONS[METRIC.storageFaults]]);
    expect(dimensionsOf(METRIC.objectsQuarantined)).toEqual([METRIC_DIMENSIONS[METRIC.objectsQuarantined]]);
  });

  it('refer only to catalogue metrics (lib/metrics/names.ts), with their catalogue dimensions', () => {
    const catalogue = new Map(Object.values(METRICS).map((def) => [def.name as string, def.dimensions as readonly string[]]));
    const funnelAlarms = alarms.filter((a) => a.Properties.Namespace === METRICS_NAMESPACE);
    const insights = alarms.flatMap((a) => (a.Properties.Metrics ?? []) as { Expression?: string }[]).flatMap((m) => (m.Expression ? [m.Expression] : []));
    expect(funnelAlarms.length + insights.length).toBe(5);
    for (const alarm of funnelAlarms) {
      expect(catalogue.has(alarm.Properties.MetricName), alarm.Properties.MetricName).toBe(true);
      expect(alarm.Properties.Dimensions ?? []).toEqual(catalogue.get(alarm.Properties.MetricName)!.map((d) => expect.objectContaining({ Name: d })));
    }
    for (const expression of insights) {
      const [, name, dimensions] = /^SELECT SUM\((\w+)\) FROM SCHEMA\("Funnel"((?:, \w+)*)\)$/.exec(expression) ?? [];
      expect(catalogue.has(name!), expression).toBe(true);
      expect(dimensions!.split(', ').filter(Boolean)).toEqual(catalogue.get(name!));
    }
  });

  it('ingest batches that fail as a whole', () => {
    expect(alarmOn(METRIC.ingestBatchErrors, METRICS_NAMESPACE)).toHaveLength(1);
  });

  it.each(Object.keys(functions))('%s: errors and throttles', (name) => {
    for (const metric of ['Errors', 'Throttles']) {
      const found = alarmOn(metric, 'AWS/Lambda').filter((a) => a.Properties.Dimensions?.[0]?.Value?.Ref === fnIds[name]);
      expect(found, `${name} ${metric}`).toHaveLength(1);
      expect(found[0]!.Properties).toMatchObject({ Statistic: 'Sum', Threshold: 1 });
    }
  });

  it('listener not running, unless parked', () => {
    expect(alarmOn('CPUUtilization', 'AWS/ECS')).toHaveLength(1);
    expect(alarmOn('CPUUtilization', 'AWS/ECS')[0]!.Properties).toMatchObject({ ComparisonOperator: 'LessThanThreshold', TreatMissingData: 'breaching' });
    const { template: t } = synth({ listenerDesiredCount: 0 });
    t.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { MetricName: 'CPUUtilization' }, 0);
  });
});

describe('dashboard', () => {
  const dashboards = Object.values(resourcesOf(template, 'AWS::CloudWatch::Dashboard')) as Resource[];
  const body = flat(dashboards[0]!.Properties.DashboardBody);
  const widgets = JSON.parse(body.replace(/\$\{[^}]*\}/g, 'x')).widgets as { type: string; properties: Record<string, any> }[];

  it('is one dashboard named after the stack (Funnel)', () => {
    expect(dashboards).toHaveLength(1);
    expect(dashboards[0]!.Properties.DashboardName).toBe('Funnel');
    template.hasOutput('DashboardName', {});
  });

  it('charts every Funnel metric (lib/metrics/names.ts), with the dimensions the functions emit', () => {
    expect(Object.keys(METRIC_DIMENSIONS).sort()).toEqual(Object.values(METRIC).sort());
    for (const name of Object.values(METRIC)) expect(body, name).toContain(name);
    expect(body).toContain(`SEARCH('{Funnel,Kind} MetricName=\\"${METRIC.eventsAccepted}\\"'`);
    expect(body).toContain(`SEARCH('{Funnel,Reason} MetricName=\\"${METRIC.eventsRejected}\\"'`);
    expect(body).toContain(`SEARCH('{Funnel,Route} MetricName=\\"${METRIC.queryLatencyMs}\\"', 'p99'`);
    expect(body).toContain(`SEARCH('{Funnel,Route} MetricName=\\"${METRIC.queryLatencyMs}\\"', 'p50'`);
    expect(body).toContain('100 * hits / (hits + misses)');
    expect(body).toContain(`SEARCH('{Funnel,Store} MetricName=\\"${METRIC.storageFaults}\\"', 'Sum'`);
    expect(body).toContain(`SEARCH('{Funnel,Route} MetricName=\\"${METRIC.requestsRateLimited}\\"', 'Sum'`);
  });

  it('charts Funnel metrics by catalogue name only', () => {
    const catalogue = new Set<string>(Object.values(METRIC));
    const named = [...body.matchAll(/"Funnel","(\w+)"/g), ...body.matchAll(/MetricName=\\"(\w+)\\"/g)].map((m) => m[1]!);
    expect(new Set(named)).toEqual(catalogue);
  });

  it('charts the queue age, the DLQs, every function and the listener, and shows the alarms', () => {
    expect(body).toContain(`"AWS/SQS","ApproximateAgeOfOldestMessage","QueueName","\${${ids.queue}.QueueName}"`);
    for (const dlq of [ids.dlq, ids.jobsDlq]) expect(body).toContain(`"ApproximateNumberOfMessagesVisible","QueueName","\${${dlq}.QueueName}"`);
    for (const id of Object.values(fnIds)) {
      expect(body).toContain(`"AWS/Lambda","Errors","FunctionName","\${${id}}"`);
      expect(body).toContain(`"AWS/Lambda","Throttles","FunctionName","\${${id}}"`);
    }
    expect(body).toContain('"AWS/ECS","CPUUtilization"');
    const alarmWidget = widgets.find((w) => w.type === 'alarm');
    expect(alarmWidget?.properties.alarms).toHaveLength(alarms.length);
  });
});

describe('outputs', () => {
  it('exports the jobs DLQ and the alarm topic', () => {
    template.hasOutput('JobsDlqUrl', { Value: { Ref: ids.jobsDlq } });
    template.hasOutput('AlarmTopicArn', { Value: { Ref: ids.topic } });
  });
});
