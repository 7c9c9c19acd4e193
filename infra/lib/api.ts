import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { CorsHttpMethod, HttpApi, HttpStage, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Bucket } from 'aws-cdk-lib/aws-s3';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { FunnelFunction, S3_OBJECT_ACTIONS } from './function.js';
import { acknowledge } from './nag.js';
import { ANY, grantCounterKeys, stateKey, TABLE_ACTIONS, type KeyGrant } from './counter-keys.js';
import { projectSettingsNamespace, schemaTypesNamespace, schemaVersionsNamespace } from '../../lib/app/schemas.js';
import { JOBS_PREFIX } from './jobs.js';
import type { Analytics } from './analytics.js';
import { DEFAULT_RATE_LIMIT, rateLimitEnvironment, rateLimitSettingsFromEnv, type RateLimitSettings } from '../../lib/api/rate-limit.js';

export interface ApiProps {
  readonly factsBucket: Bucket;
  readonly countersTable: Table;
  /** Origins allowed by CORS (`*` for any). */
  readonly corsOrigins: string[];
  /** Queue of the Athena jobs (windows the counters cannot answer): the api sends to it. */
  readonly jobsQueue: Queue;
  /** Seconds a completed job's result is reused for an identical request. */
  readonly jobResultTtlSeconds: number;
  /** Jobs one client may start per hour. */
  readonly jobQuotaPerHour: number;
  /** MINUTE_TTL_DAYS, HOUR_TTL_DAYS, DAY_TTL_DAYS. */
  readonly retentionEnvironment: Record<string, string>;
  /** Steady-state requests per second and burst admitted by the default stage. */
  readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
  /** The per-caller limit each api container enforces (lib/api/rate-limit.ts); defaults DEFAULT_RATE_LIMIT. */
  readonly rateLimit?: Partial<RateLimitSettings>;
  /** The ingest queue POST /v1/events sends app events to (QUEUE_URL and send permission). */
  readonly ingestQueue: Queue;
  /**
   * The analysts' workgroup and database: each schema version PUT /v1/schemas registers gets a saved
   * query there (ATHENA_WORKGROUP, ATHENA_DATABASE, and CreateNamedQuery on the workgroup).
   */
  readonly analytics: Pick<Analytics, 'workGroupName' | 'databaseName' | 'workGroupArn'>;
}

/**
 * DynamoDB partition keys the api may write, and no others: submitting a job (lib/jobs/jobs.ts)
 * puts the job item (state record `s:job:<jobId>`) and adds to the client's hourly quota counter
 * (`quota:<client>#h`); the schema registry (lib/app/schemas.ts) puts schema versions, the project's
 * event types and its settings. test/infra/analytics.test.ts runs `submitJob` against the DynamoDB adapter
 * and checks every key it writes matches these patterns.
 */
export const API_WRITABLE_KEYS = ['s:job:*', 'quota:*', ...[schemaVersionsNamespace(ANY, ANY), schemaTypesNamespace(ANY), projectSettingsNamespace(ANY)].map(stateKey)];

/**
 * The api's use of the counters table: it reads (GetItem, Query) any item, since the public routes read
 * every user, event, address, project and global scope, the job items and the quota counters; it writes
 * (PutItem, UpdateItem) only under API_WRITABLE_KEYS. No Scan, BatchGetItem, BatchWriteItem or
 * DeleteItem, and nothing on the table's indexes or streams.
 */
export const API_TABLE_READS = [TABLE_ACTIONS.get, TABLE_ACTIONS.query] as const;
export const API_TABLE_WRITES: readonly KeyGrant[] = [{ actions: [TABLE_ACTIONS.put, TABLE_ACTIONS.update], keys: API_WRITABLE_KEYS }];

/** Fields of each API access log line (JSON, one line per request). */
export const API_ACCESS_LOG_FIELDS = {
  requestId: '$context.requestId',
  ip: '$context.identity.sourceIp',
  requestTime: '$context.requestTime',
  method: '$context.httpMethod',
  path: '$context.path',
  routeKey: '$context.routeKey',
  status: '$context.status',
  protocol: '$context.protocol',
  responseLength: '$context.responseLength',
  responseLatency: '$context.responseLatency',
  integrationLatency: '$context.integrationLatency',
  integrationError: '$context.integrationErrorMessage',
  userAgent: '$context.identity.userAgent',
} as const;

/**
 * The HTTP API: one Lambda function behind an API Gateway HTTP API (`$default` route), on a
 * `$default` stage with throttling and JSON access logs. Public reads need no credentials; the
 * app-event route (POST /v1/events) is checked by the function against the keys in the
 * `AppApiKeys` secret (HTTP APIs have no API keys of their own).
 */
export class Api extends Construct {
  readonly fn: FunnelFunction;
  readonly httpApi: HttpApi;
  readonly stage: HttpStage;
  readonly accessLogs: LogGroup;
  /** Keys accepted in `x-api-key` on POST /v1/events (comma-separated in the secret value). */
  readonly appApiKeys: Secret;

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);

    this.appApiKeys = new Secret(this, 'AppApiKeys', {
      description: 'Funnel: API keys accepted in x-api-key (comma-separated sha256:<hex of the key>:project entries; a raw key is accepted and hashed on load; add a key, then remove the old one, to rotate)',
      generateSecretString: { passwordLength: 40, excludePunctuation: true, includeSpace: false },
      removalPolicy: RemovalPolicy.DESTROY,
    });
    acknowledge(
      this.appApiKeys,
      'AwsSolutions-SMG4',
      'These keys are handed to app developers out of band, so a scheduled rotation would break their clients; operators rotate by adding a new key to the list and removing the old one once clients have moved.',
    );

    const rateLimitEnv = rateLimitEnvironment({ ...DEFAULT_RATE_LIMIT, ...props.rateLimit });
    // the function's own check, at synth: a bad value fails here, not at the first request
    rateLimitSettingsFromEnv(rateLimitEnv);
    this.fn = new FunnelFunction(this, 'Function', {
      entry: 'functions/api/handler.ts',
      description: 'Funnel api: analytics queries over the counters, and the dashboard page',
      // the dashboard's page, scripts and stylesheet, read by functions/api/dashboard-routes.ts relative to the bundle
      bundleFolders: ['functions/api/dashboard'],
      timeout: Duration.seconds(15),
      memorySize: 1024,
      environment: {
        FACTS_BUCKET: props.factsBucket.bucketName,
        COUNTERS_TABLE: props.countersTable.tableName,
        JOBS_QUEUE_URL: props.jobsQueue.queueUrl,
        JOB_RESULT_TTL_SECONDS: String(props.jobResultTtlSeconds),
        JOB_QUOTA_PER_HOUR: String(props.jobQuotaPerHour),
        APP_API_KEYS_SECRET_ARN: this.appApiKeys.secretArn,
        QUEUE_URL: props.ingestQueue.queueUrl,
        ATHENA_WORKGROUP: props.analytics.workGroupName,
        ATHENA_DATABASE: props.analytics.databaseName,
        ...rateLimitEnv,
        ...props.retentionEnvironment,
      },
    });
    // The only objects the api reads are job results; ListBucket on the bucket so an expired result
    // is a NoSuchKey (which the object store reads as "none"), not AccessDenied.
    this.fn.grantObjects(props.factsBucket, {
      actions: S3_OBJECT_ACTIONS.read,
      prefix: JOBS_PREFIX,
      bucketActions: ['s3:ListBucket'],
      purpose: 'the api reads job results (jobs/<jobId>.json, the id known only at run time) and never writes',
    });
    this.fn.addToRolePolicy(new PolicyStatement({ actions: [...API_TABLE_READS], resources: [props.countersTable.tableArn] }));
    grantCounterKeys(props.countersTable, this.fn, API_TABLE_WRITES);
    props.jobsQueue.grantSendMessages(this.fn);
    props.ingestQueue.grantSendMessages(this.fn);
    this.appApiKeys.grantRead(this.fn);
    // Saving a query is all the api does in Athena: it runs none, so no Glue or results-bucket access.
    this.fn.addToRolePolicy(new PolicyStatement({ actions: ['athena:CreateNamedQuery'], resources: [props.analytics.workGroupArn] }));

    this.httpApi = new HttpApi(this, 'HttpApi', {
      description: 'Funnel analytics API',
      defaultIntegration: new HttpLambdaIntegration('ApiIntegration', this.fn),
      // the $default stage is created below, with throttling and access logs
      createDefaultStage: false,
      corsPreflight: {
        allowOrigins: props.corsOrigins,
        allowMethods: [CorsHttpMethod.GET, CorsHttpMethod.POST, CorsHttpMethod.PUT, CorsHttpMethod.OPTIONS],
        allowHeaders: ['content-type', 'authorization', 'x-api-key'],
        maxAge: Duration.hours(1),
      },
    });
    acknowledge(
      this.httpApi,
      'AwsSolutions-APIG4',
      'The analytics routes are a public read API (public Nostr data, cacheable by a CDN); the one write route, ' +
        'POST /v1/events, is checked by the api function against the AppApiKeys secret (x-api-key), which HTTP APIs cannot do natively.',
    );

    this.accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stage = new HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.throttle.rateLimit, burstLimit: props.throttle.burstLimit },
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(JSON.stringify(API_ACCESS_LOG_FIELDS)),
      },
    });
  }
}
