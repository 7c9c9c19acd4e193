import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { repoPath, repoRoot } from './paths.js';

/** Makes ESM bundles able to load CommonJS dependencies that call `require`. */
export const ESM_REQUIRE_BANNER =
  "import { createRequire } from 'module'; const require = createRequire(import.meta.url);";

export interface FunnelFunctionProps {
  /** Path of the handler file relative to the repository root, e.g. `functions/ingest/handler.ts`. */
  readonly entry: string;
  readonly description: string;
  readonly timeout: Duration;
  readonly memorySize: number;
  readonly environment: Record<string, string>;
  /** Asynchronous invocation retries (EventBridge targets). */
  readonly retryAttempts?: number;
}

/** A Node.js 22 / arm64 Lambda function bundled as ESM by the local esbuild, with its own log group. */
export class FunnelFunction extends NodejsFunction {
  readonly logs: LogGroup;

  constructor(scope: Construct, id: string, props: FunnelFunctionProps) {
    const logs = new LogGroup(scope, `${id}Logs`, {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    super(scope, id, {
      entry: repoPath(props.entry),
      handler: 'handler',
      projectRoot: repoRoot,
      depsLockFilePath: repoPath('package-lock.json'),
      description: props.description,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      timeout: props.timeout,
      memorySize: props.memorySize,
      logGroup: logs,
      ...(props.retryAttempts !== undefined ? { retryAttempts: props.retryAttempts } : {}),
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        target: 'node22',
        mainFields: ['module', 'main'],
        banner: ESM_REQUIRE_BANNER,
        minify: true,
        sourceMap: true,
      },
    });
    this.logs = logs;
  }
}
