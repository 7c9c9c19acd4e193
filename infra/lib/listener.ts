import { RemovalPolicy } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { IpAddresses, SubnetType, Vpc, type IVpc } from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import {
  Cluster,
  ContainerImage,
  CpuArchitecture,
  FargateService,
  FargateTaskDefinition,
  type ICluster,
  LogDrivers,
  OperatingSystemFamily,
} from 'aws-cdk-lib/aws-ecs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { repoRoot } from './paths.js';

export interface ListenerProps {
  readonly ingestQueue: Queue;
  readonly countersTable: Table;
  readonly relayUrls: string[];
  readonly desiredCount: number;
}

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

/**
 * The relay listener: a long-running container on ECS Fargate holding WebSocket subscriptions to the
 * relays and forwarding events to the ingest queue. It only makes outbound connections, so it runs in
 * public subnets with a public IP and no NAT gateway (no inbound rule is opened).
 */
export class Listener extends Construct {
  readonly vpc: Vpc;
  readonly cluster: Cluster;
  readonly taskDefinition: FargateTaskDefinition;
  readonly service: FargateService;

  constructor(scope: Construct, id: string, props: ListenerProps) {
    super(scope, id);

    this.vpc = new Vpc(this, 'Vpc', {
      ipAddresses: IpAddresses.cidr('10.40.0.0/16'),
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'public', subnetType: SubnetType.PUBLIC, cidrMask: 24 }],
      restrictDefaultSecurityGroup: true,
    });

    // (the `as` casts only keep aws-cdk-lib's classes assignable to their interfaces when a
    // tsconfig enables exactOptionalPropertyTypes)
    this.cluster = new Cluster(this, 'Cluster', { vpc: this.vpc as IVpc });

    this.taskDefinition = new FargateTaskDefinition(this, 'TaskDefinition', {
      cpu: 256,
      memoryLimitMiB: 512,
      runtimePlatform: {
        cpuArchitecture: CpuArchitecture.ARM64,
        operatingSystemFamily: OperatingSystemFamily.LINUX,
      },
    });

    const logs = new LogGroup(this, 'Logs', {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.taskDefinition.addContainer('listener', {
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
      logging: LogDrivers.awsLogs({ streamPrefix: 'listener', logGroup: logs }),
    });

    props.ingestQueue.grantSendMessages(this.taskDefinition.taskRole);
    props.countersTable.grantReadWriteData(this.taskDefinition.taskRole);

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
