import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { FlowLogDestination, FlowLogTrafficType, IpAddresses, SubnetType, Vpc, type IVpc } from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import {
  Cluster,
  ContainerDefinition,
  ContainerImage,
  ContainerInsights,
  CpuArchitecture,
  FargateService,
  FargateTaskDefinition,
  type ICluster,
  LinuxParameters,
  LogDrivers,
  OperatingSystemFamily,
} from 'aws-cdk-lib/aws-ecs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { grantCounterKeys, stateKey, TABLE_ACTIONS, type KeyGrant } from './counter-keys.js';
import { acknowledge } from './nag.js';
import { repoRoot } from './paths.js';
import { CHECKPOINT_NAMESPACE } from '../../lib/listener/checkpoints.js';

export interface ListenerProps {
  readonly ingestQueue: Queue;
  readonly countersTable: Table;
  readonly relayUrls: string[];
  readonly desiredCount: number;
}

/**
 * The listener's only use of the counters table: its per-relay checkpoints (lib/listener/checkpoints.ts,
 * state namespace `checkpoint`, which that module keeps private), loaded at start and saved as it goes.
 */
export const LISTENER_TABLE_ACCESS: readonly KeyGrant[] = [
  { actions: [TABLE_ACTIONS.get, TABLE_ACTIONS.put], keys: [stateKey(CHECKPOINT_NAMESPACE)] },
];

/** Paths never sent to the Docker build context of the listener image. */
export const LISTENER_IMAGE_EXCLUDES = [
  'node_modules',
  '**/node_modules',
  '.git',
  '.github',
  '.ci',
  'cdk.out',
  'cdk.json',
  '.funnel',
  'coverage',
  'test',
  'docs',
  'infra',
  '*.md',
];

/** File the listener refreshes (every 10 s, with the time in ms) while at least one relay is connected. */
export const LISTENER_HEARTBEAT_FILE = '/tmp/listener-heartbeat';
/** A heartbeat older than this makes the container unhealthy. */
export const LISTENER_HEARTBEAT_MAX_AGE_MS = 60_000;
/** The container health check: the heartbeat file is fresh. */
export const LISTENER_HEALTH_COMMAND = `node -e "const t=+require('fs').readFileSync('${LISTENER_HEARTBEAT_FILE}','utf8'); process.exit(Date.now()-t<${LISTENER_HEARTBEAT_MAX_AGE_MS}?0:1)"`;
/** Time between SIGTERM and SIGKILL when a task stops: the listener flushes its batches and checkpoints. */
export const LISTENER_STOP_TIMEOUT = Duration.seconds(30);

/**
 * The relay listener: a long-running container on ECS Fargate holding WebSocket subscriptions to the
 * relays and forwarding events to the ingest queue. It only makes outbound connections, so it runs in
 * public subnets with a public IP and no NAT gateway (no inbound rule is opened).
 *
 * Failure handling: the container restarts in place when it exits with an error (ECS restart policy),
 * ECS replaces a task whose health check fails (the heartbeat file goes stale when no relay is
 * connected for a minute) or that stops, and a deployment whose tasks do not become healthy is rolled
 * back by the circuit breaker. On a stop, ECS sends SIGTERM through the init process (tini) and waits
 * 30 s before SIGKILL, for the listener to flush and checkpoint.
 */
export class Listener extends Construct {
  readonly vpc: Vpc;
  readonly cluster: Cluster;
  readonly taskDefinition: FargateTaskDefinition;
  readonly service: FargateService;
  readonly container: ContainerDefinition;
  readonly logs: LogGroup;

  constructor(scope: Construct, id: string, props: ListenerProps) {
    super(scope, id);

    this.vpc = new Vpc(this, 'Vpc', {
      ipAddresses: IpAddresses.cidr('10.40.0.0/16'),
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'public', subnetType: SubnetType.PUBLIC, cidrMask: 24 }],
      restrictDefaultSecurityGroup: true,
    });
    // flow logs of the listener's ENIs: a few WebSocket connections, so a small log
    const flowLogs = new LogGroup(this, 'FlowLogs', {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.vpc.addFlowLog('FlowLog', {
      destination: FlowLogDestination.toCloudWatchLogs(flowLogs),
      trafficType: FlowLogTrafficType.ALL,
    });

    // (the `as` casts only keep aws-cdk-lib's classes assignable to their interfaces when a
    // tsconfig enables exactOptionalPropertyTypes)
    this.cluster = new Cluster(this, 'Cluster', {
      vpc: this.vpc as IVpc,
      containerInsightsV2: ContainerInsights.ENABLED,
    });

    this.taskDefinition = new FargateTaskDefinition(this, 'TaskDefinition', {
      cpu: 256,
      memoryLimitMiB: 512,
      runtimePlatform: {
        cpuArchitecture: CpuArchitecture.ARM64,
        operatingSystemFamily: OperatingSystemFamily.LINUX,
      },
    });

    this.logs = new LogGroup(this, 'Logs', {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.container = this.taskDefinition.addContainer('listener', {
      image: ContainerImage.fromAsset(repoRoot, {
        file: 'functions/listener/Dockerfile',
        exclude: LISTENER_IMAGE_EXCLUDES,
        platform: Platform.LINUX_ARM64,
      }),
      essential: true,
      environment: {
        RELAY_URLS: props.relayUrls.join(','),
        QUEUE_URL: props.ingestQueue.queueUrl,
        COUNTERS_TABLE: props.countersTable.tableName,
      },
      logging: LogDrivers.awsLogs({ streamPrefix: 'listener', logGroup: this.logs }),
      healthCheck: {
        command: ['CMD-SHELL', LISTENER_HEALTH_COMMAND],
        interval: Duration.seconds(30),
        timeout: Duration.seconds(5),
        retries: 3,
        startPeriod: Duration.seconds(60),
      },
      stopTimeout: LISTENER_STOP_TIMEOUT,
      // an init process (tini) as PID 1 forwards SIGTERM to node and reaps zombies
      linuxParameters: new LinuxParameters(this, 'LinuxParameters', { initProcessEnabled: true }),
      // an error exit restarts the container in the same task (faster than a new task); a clean
      // exit (0, after SIGTERM) does not
      enableRestartPolicy: true,
      restartIgnoredExitCodes: [0],
      restartAttemptPeriod: Duration.seconds(60),
    });
    acknowledge(
      this.taskDefinition,
      'AwsSolutions-ECS2',
      'The environment holds configuration only (relay URLs, the queue URL and the table name), no secrets; the task role grants the access.',
    );

    acknowledge(
      this.taskDefinition.obtainExecutionRole(),
      'AwsSolutions-IAM5[Resource::*]',
      'The execution role pulls the listener image from the CDK assets repository: ecr:GetAuthorizationToken supports no resource-level permission, so its resource is *.',
    );

    props.ingestQueue.grantSendMessages(this.taskDefinition.taskRole);
    grantCounterKeys(props.countersTable, this.taskDefinition.taskRole, LISTENER_TABLE_ACCESS);

    this.service = new FargateService(this, 'Service', {
      cluster: this.cluster as ICluster,
      taskDefinition: this.taskDefinition,
      desiredCount: props.desiredCount,
      assignPublicIp: true,
      vpcSubnets: { subnetType: SubnetType.PUBLIC },
      // a second listener briefly overlapping the old one is harmless (ingest deduplicates), a gap is not
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { rollback: true },
    });
  }
}
