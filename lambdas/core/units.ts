/** Units and table-setting bounds shared by the construct, the settings parser and the planner. */
export const MB = 1024 * 1024;
export const DAY_MS = 86_400_000;

/** Target size of one output Parquet file, in MB. */
export const TARGET_FILE_MB = { default: 512, min: 64, max: 1024 } as const;
/** Days retired objects stay after the catalog was verified pointing at their replacement. */
export const GRACE_DAYS = { default: 3, min: 0, max: 3650 } as const;
