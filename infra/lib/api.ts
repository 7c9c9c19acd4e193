import { Duration } from 'aws-cdk-lib';
import { CorsHttpMethod, HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { Bucket } from 'aws-cdk-lib/aws-s3';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { FunnelFunction } from './function.js';

export interface ApiProps {
  readonly factsBucket: Bucket;
  readonly countersTable: Table;
  /** Origins allowed by CORS (`*` for any). */
  readonly corsOrigins: string[];
  /** Queue of the Athena jobs (windows the counters cannot answer): the api sends to it. */
  readonly jobsQueue: Queue;
  /** Seconds a completed job's result is reused for an identical request. */
  readonly jobResultTtlSeconds: number;
}

/**
 * DynamoDB partition keys the api may write, and no others: submitting a job (lib/jobs/jobs.ts)
 * puts the job item (state record `s:job:<jobId>`) and adds to the client's hourly quota counter
 * (`quota:<client>#h`). test/infra/analytics.test.ts runs `submitJob` against the DynamoDB adapter
 * and checks every key it writes matches these patterns.
 */
export const API_WRITABLE_KEYS = ['s:job:*', 'quota:*'];

/** The HTTP API: one Lambda function behind an API Gateway HTTP API (`$default` route). */
export class Api extends Construct {
  readonly fn: FunnelFunction;
  readonly httpApi: HttpApi;

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);

    this.fn = new FunnelFunction(this, 'Function', {
      entry: 'functions/api/handler.ts',
      description: 'Funnel api: analytics queries over the counters',
      timeout: Duration.seconds(15),
      memorySize: 1024,
      environment: {
        FACTS_BUCKET: props.factsBucket.bucketName,
        COUNTERS_TABLE: props.countersTable.tableName,
        JOBS_QUEUE_URL: props.jobsQueue.queueUrl,
        JOB_RESULT_TTL_SECONDS: String(props.jobResultTtlSeconds),
      },
    });
    // reads the whole facts bucket, job results (jobs/*) included
    props.factsBucket.grantRead(this.fn);
    props.countersTable.grantReadData(this.fn);
    props.jobsQueue.grantSendMessages(this.fn);
    this.fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
        resources: [props.countersTable.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': API_WRITABLE_KEYS } },
      }),
    );

    this.httpApi = new HttpApi(this, 'HttpApi', {
      description: 'Funnel analytics API',
      defaultIntegration: new HttpLambdaIntegration('ApiIntegration', this.fn),
      corsPreflight: {
        allowOrigins: props.corsOrigins,
        allowMethods: [CorsHttpMethod.GET, CorsHttpMethod.POST, CorsHttpMethod.OPTIONS],
        allowHeaders: ['content-type', 'authorization', 'x-api-key'],
        maxAge: Duration.hours(1),
      },
    });
  }
}
