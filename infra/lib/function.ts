import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledge, arnWildcardFinding } from './nag.js';
import { repoPath, repoRoot } from './paths.js';

/** Makes ESM bundles able to load CommonJS dependencies that call `require`. */
export const ESM_REQUIRE_BANNER =
  "import { createRequire } from 'module'; const require = createRequire(import.meta.url);";

/** Retention of every function's log group. */
export const FUNCTION_LOG_RETENTION = RetentionDays.ONE_MONTH;

export interface FunnelFunctionProps {
  /** Path of the handler file relative to the repository root, e.g. `functions/ingest/handler.ts`. */
  readonly entry: string;
  readonly description: string;
  readonly timeout: Duration;
  readonly memorySize: number;
  readonly environment: Record<string, string>;
  /** Asynchronous invocation retries (EventBridge targets). */
  readonly retryAttempts?: number;
  /** How long Lambda keeps retrying an asynchronous event it could not start (throttled), 1 min to 6 h. */
  readonly maxEventAge?: Duration;
  /** Concurrent executions reserved for (and the most allowed to) this function. */
  readonly reservedConcurrentExecutions?: number;
  /**
   * Folders (relative to the repository root) copied into the bundle beside the handler, under their
   * own name: files the code reads at run time relative to its module (the api's dashboard page).
   */
  readonly bundleFolders?: readonly string[];
}

/**
 * The bundling hook that copies `folders` next to the bundle (`functions/api/dashboard` →
 * `<bundle>/dashboard`). Bundling runs on this machine (local esbuild, no Docker), so the copy is a
 * shell `cp` there; the source tree is `inputDir`.
 */
export function copyFoldersHook(folders: readonly string[]) {
  const quote = (path: string) => `'${path.replace(/'/g, "'\\''")}'`;
  return {
    beforeBundling: (): string[] => [],
    beforeInstall: (): string[] => [],
    afterBundling: (inputDir: string, outputDir: string): string[] =>
      folders.map((folder) => `cp -R ${quote(`${inputDir}/${folder}`)} ${quote(`${outputDir}/${folder.split('/').pop()}`)}`),
  };
}

/** S3 object actions, by what a function does with the objects (no `s3:*Object*` wildcards). */
export const S3_OBJECT_ACTIONS = {
  read: ['s3:GetObject'],
  write: ['s3:PutObject'],
  delete: ['s3:DeleteObject'],
} as const;

/** S3 object actions on the keys under `prefix` (all keys without one), and why they are needed. */
export interface ObjectGrant {
  readonly actions: readonly string[];
  readonly prefix?: string;
  /** actions on the bucket itself (s3:ListBucket) */
  readonly bucketActions?: readonly string[];
  /** what the function does with those keys: the reason of the IAM5 acknowledgment */
  readonly purpose: string;
}

/**
 * A Node.js 22 / arm64 Lambda function bundled as ESM by the local esbuild, with its own log group
 * (one month) and its own role. The role starts with nothing but writing to that log group (not the
 * AWS managed AWSLambdaBasicExecutionRole, which may write to any log group); every other permission
 * is granted by the construct that owns the function.
 */
export class FunnelFunction extends NodejsFunction {
  readonly logs: LogGroup;
  readonly serviceRole: Role;

  constructor(scope: Construct, id: string, props: FunnelFunctionProps) {
    const logs = new LogGroup(scope, `${id}Logs`, {
      retention: FUNCTION_LOG_RETENTION,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new Role(scope, `${id}Role`, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of: ${props.description}`.slice(0, 1000),
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
      role,
      ...(props.retryAttempts !== undefined ? { retryAttempts: props.retryAttempts } : {}),
      ...(props.maxEventAge !== undefined ? { maxEventAge: props.maxEventAge } : {}),
      ...(props.reservedConcurrentExecutions !== undefined ? { reservedConcurrentExecutions: props.reservedConcurrentExecutions } : {}),
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
        ...(props.bundleFolders?.length ? { commandHooks: copyFoldersHook(props.bundleFolders) } : {}),
      },
    });
    this.logs = logs;
    this.serviceRole = role;
    logs.grantWrite(role);

    acknowledge(
      this,
      'AwsSolutions-L1',
      'Node.js 22 is the pinned runtime: the bundles target node22 and the listener image runs node:22, so the ' +
        'Lambda functions and the container run one Node version; moving to a newer runtime is a deliberate upgrade.',
    );
  }

  /**
   * Grants S3 object actions on `<bucket>/<prefix>*` (prefix `''`: every object) and, with
   * `bucketActions`, those actions on the bucket itself (s3:ListBucket: without it a missing key
   * answers AccessDenied rather than NoSuchKey). Object actions need an object ARN pattern; the IAM5
   * finding for that pattern is acknowledged on this function's role with the given purpose.
   */
  grantObjects(bucket: IBucket, grant: ObjectGrant): void {
    const prefix = grant.prefix ?? '';
    this.addToRolePolicy(new PolicyStatement({ actions: [...grant.actions], resources: [bucket.arnForObjects(`${prefix}*`)] }));
    if (grant.bucketActions?.length) {
      this.addToRolePolicy(new PolicyStatement({ actions: [...grant.bucketActions], resources: [bucket.bucketArn] }));
    }
    acknowledge(
      this.serviceRole,
      arnWildcardFinding(bucket, `/${prefix}*`),
      `S3 object actions (${grant.actions.join(', ')}) apply to object ARNs, so they are granted on the key pattern ${prefix || '(all keys)'}*: ${grant.purpose}`,
    );
  }
}
