import { Duration } from 'aws-cdk-lib';
import { CorsHttpMethod, HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import type { Bucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { FunnelFunction } from './function.js';

export interface ApiProps {
  readonly factsBucket: Bucket;
  readonly countersTable: Table;
  /** Origins allowed by CORS (`*` for any). */
  readonly corsOrigins: string[];
}

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
      },
    });
    props.factsBucket.grantRead(this.fn);
    props.countersTable.grantReadData(this.fn);

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
