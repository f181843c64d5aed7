import { ConfigurationError, InvalidInputError } from '../../lambdas/core/errors';
import { parseEngineSettings, parseRunRequest, parseTableSettings } from '../../lambdas/core/settings';

const table = { table: 'sensors', partitionKeys: ['dt', 'hour'] };

describe('parseRunRequest', () => {
  it('accepts what the schedule sends and what a person pastes', () => {
    expect(parseRunRequest({ table: 'sensors' }, table)).toEqual({ table: 'sensors' });
    expect(parseRunRequest({ table: 'sensors', partitions: ['dt=2024-12-19'], dryRun: true, targetFileMb: 128 }, table)).toEqual({
      table: 'sensors',
      partitions: ['dt=2024-12-19'],
      dryRun: true,
      targetFileMb: 128,
    });
    expect(parseRunRequest({ table: 'sensors', ifRunning: 'skip' }, table)).toEqual({ table: 'sensors', ifRunning: 'skip' });
  });

  it.each([
    [null, 'run input must be a JSON object like {"table": "sensors"}, got null'],
    [{ table: 'orders' }, 'run input field "table" must be "sensors" (this pipeline\'s table), got "orders"'],
    [{ table: 'sensors', dryrun: true }, 'run input has unknown field(s) dryrun; allowed: table, partitions, dryRun, targetFileMb, ifRunning'],
    [{ table: 'sensors', dryRun: 'yes' }, 'run input field "dryRun" must be true or false, got "yes"'],
    [{ table: 'sensors', ifRunning: 'wait' }, 'run input field "ifRunning" must be "fail" or "skip" (what to do when another run holds the table), got "wait"'],
    [{ table: 'sensors', targetFileMb: 2000 }, 'run input field "targetFileMb" must be an integer from 64 to 1024, got 2000'],
    [{ table: 'sensors', partitions: 'dt=1' }, 'run input field "partitions" must be a list of partition path prefixes like ["dt=2024-12-19"], got "dt=1"'],
    [{ table: 'sensors', partitions: ['day=1'] }, 'run input field "partitions": "day=1" does not start with a partition key of dt, hour (k=v)'],
  ])('rejects %j', (input, message) => {
    expect(() => parseRunRequest(input, table)).toThrow(new InvalidInputError(message));
  });
});

describe('parseTableSettings / parseEngineSettings', () => {
  const base = { TABLE_NAME: 'sensors', LANDING_BUCKET: 'l', GOLD_BUCKET: 'g' };

  it('fills defaults and normalises prefixes', () => {
    expect(parseTableSettings({ ...base, LANDING_PREFIX: 'raw/sensors' })).toEqual({
      table: 'sensors',
      landingBucket: 'l',
      landingPrefix: 'raw/sensors/',
      goldBucket: 'g',
      goldPrefix: 'sensors/',
      partitionKeys: ['dt', 'hour'],
      layout: 'hive',
      targetFileMb: 512,
      minInputFiles: 5,
      maxBinsPerRun: 1000,
      maxBinObjects: 200_000,
      graceDays: 3,
      quietPeriodMinutes: 60,
    });
  });

  it('bounds the objects of a bin by MAX_BIN_OBJECTS, and by the time budget when it is not set', () => {
    expect(parseTableSettings({ ...base, MAX_BIN_OBJECTS: '100' }).maxBinObjects).toBe(100);
    expect(parseTableSettings(base).maxBinObjects).toBe(200_000);
  });

  it.each([
    [{ TABLE_NAME: 'sensors', GOLD_BUCKET: 'g' }, 'environment variable LANDING_BUCKET is required'],
    [{ ...base, TARGET_FILE_MB: '32' }, 'environment variable TARGET_FILE_MB must be an integer from 64 to 1024, got "32"'],
    [{ ...base, MAX_BIN_OBJECTS: '0' }, 'environment variable MAX_BIN_OBJECTS must be an integer from 1 to 293000, got "0"'],
    [{ ...base, MAX_BIN_OBJECTS: '300000' }, 'environment variable MAX_BIN_OBJECTS must be an integer from 1 to 293000, got "300000"'],
    [{ ...base, MAX_BIN_OBJECTS: '12.5' }, 'environment variable MAX_BIN_OBJECTS must be an integer from 1 to 293000, got "12.5"'],
    [{ ...base, PARTITION_KEYS: 'dt,ho ur' }, 'PARTITION_KEYS: "ho ur" is not a plain column name'],
    [{ ...base, LANDING_LAYOUT: 'kafka' }, 'environment variable LANDING_LAYOUT must be one of hive, firehose, got "kafka"'],
    [{ ...base, LANDING_LAYOUT: 'firehose', PARTITION_KEYS: 'day' }, 'the firehose layout (YYYY/MM/DD/HH/) needs PARTITION_KEYS dt,hour or year,month,day,hour, got day'],
  ])('rejects table settings %j', (vars, message) => {
    expect(() => parseTableSettings(vars)).toThrow(new ConfigurationError(message));
  });

  it.each([
    [{ PARQUET_COMPRESSION: 'gzip' }, 'environment variable PARQUET_COMPRESSION must be snappy or zstd, got "gzip"'],
    [{ SORT_BY: 'ts;drop' }, 'SORT_BY: "ts;drop" is not a plain column name'],
    [{ TABLE_COLUMNS: '[null]' }, 'environment variable TABLE_COLUMNS must be a JSON list of {"name", "type"}: item 0 is null'],
    [{ TABLE_COLUMNS: '[{"name":"a"}]' }, 'environment variable TABLE_COLUMNS must be a JSON list of {"name", "type"}: item 0 is {"name":"a"}'],
  ])('rejects engine settings %j', (vars, message) => {
    expect(() => parseEngineSettings(vars)).toThrow(new ConfigurationError(message));
  });
});
