/**
 * The stack outputs of one table's pipeline, shared by the construct that exports them and the
 * tools that look a deployed table up: the output key is `<Table><Name>`, e.g. `SensorsStateMachineArn`.
 */
export const StackOutputs = {
  StateMachineArn: 'StateMachineArn',
  LandingBucketName: 'LandingBucketName',
  GoldBucketName: 'GoldBucketName',
  GlueDatabaseName: 'GlueDatabaseName',
  GlueTableName: 'GlueTableName',
  /** `dt,hour`: the table's partition keys in order. */
  PartitionKeys: 'PartitionKeys',
  /** `s3://landing/<landing prefix>` */
  LandingLocation: 'LandingLocation',
  /** `s3://gold/<gold prefix>`: the Glue table's location; partitions point at `v=` folders below it. */
  TableLocation: 'TableLocation',
  /** `s3://gold/_compactor/<table>/`: plans, manifests, partition state, lease, Map results. */
  SystemLocation: 'SystemLocation',
  /** `s3://gold/quarantine/<table>/`: set-aside records with their reports. */
  QuarantineLocation: 'QuarantineLocation',
  /** ARN of the customer key of buckets the construct created with KMS. */
  EncryptionKeyArn: 'EncryptionKeyArn',
  /** `s3://gold/_compactor/<table>/reports/`: one run report per execution. */
  ReportsLocation: 'ReportsLocation',
  /** The CloudWatch dashboard of the table's runs. */
  DashboardUrl: 'DashboardUrl',
  /** The SNS topic the table's alarms notify. */
  AlarmTopicArn: 'AlarmTopicArn',
} as const;

export type StackOutputName = (typeof StackOutputs)[keyof typeof StackOutputs];

/** `sensor_readings` -> `SensorReadings`: CloudFormation output keys are alphanumeric. */
const pascal = (name: string) =>
  name
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join('');

/** The output key of `name` for `table` (or for a lake, by its construct id). */
export const stackOutputKey = (owner: string, name: string) => `${pascal(owner)}${name}`;
