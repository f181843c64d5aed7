import type { BinManifest } from './contracts';
import { DEFAULT_OUTPUT_RATIOS, type InputFormat } from './formats';

/** Output Parquet bytes per input byte of the formats earlier runs measured (the others use defaults). */
export type MeasuredRatios = Partial<Record<InputFormat, number>>;

export interface RatioObservation {
  readonly format: InputFormat;
  readonly inputBytes: number;
  readonly outputBytes: number;
}

/** The range the planner accepts; a measurement outside it is clamped. */
export const MIN_OUTPUT_RATIO = 0.001;
export const MAX_OUTPUT_RATIO = 10;

const FORMATS = Object.keys(DEFAULT_OUTPUT_RATIOS) as InputFormat[];

/**
 * Reads a stored ratios object: each key a known format, each value a number the planner accepts.
 * Anything else is refused whole (with the reason), so a garbled file cannot skew a single bin.
 */
export function parseOutputRatios(value: unknown): { ratios: MeasuredRatios } | { error: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { error: `expected an object of ratios per format, got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}` };
  const ratios: MeasuredRatios = {};
  for (const [key, v] of Object.entries(value)) {
    if (!FORMATS.includes(key as InputFormat)) return { error: `unknown format "${key}" (known: ${FORMATS.join(', ')})` };
    if (typeof v !== 'number' || !(v >= MIN_OUTPUT_RATIO && v <= MAX_OUTPUT_RATIO)) return { error: `${key} must be a number from ${MIN_OUTPUT_RATIO} to ${MAX_OUTPUT_RATIO}, got ${typeof v === 'number' ? String(v) : JSON.stringify(v)}` };
    ratios[key as InputFormat] = v;
  }
  return { ratios };
}

/** The ratios a plan uses: measured ones where there are, defaults elsewhere. */
export const effectiveRatios = (measured: MeasuredRatios): Record<InputFormat, number> => ({ ...DEFAULT_OUTPUT_RATIOS, ...measured });

/**
 * What one verified bin measured. A bin of several formats has one output size: it is shared
 * between them in proportion to what the ratios in use predicted for each (so a single-format bin
 * measures output/input exactly). Inputs set aside whole are not in the output and count for nothing.
 */
export function binObservations(manifest: Pick<BinManifest, 'inputs' | 'output'>, ratios: Readonly<Record<InputFormat, number>>): RatioObservation[] {
  if (manifest.output.empty || manifest.output.bytes <= 0) return [];
  const bytes = new Map<InputFormat, number>();
  for (const i of manifest.inputs) if (!i.setAside && i.size > 0) bytes.set(i.format, (bytes.get(i.format) ?? 0) + i.size);
  const predicted = [...bytes].reduce((n, [f, b]) => n + b * ratios[f], 0);
  if (predicted <= 0) return [];
  return [...bytes].map(([format, inputBytes]) => ({ format, inputBytes, outputBytes: (manifest.output.bytes * inputBytes * ratios[format]) / predicted }));
}

/**
 * Folds observed ratios into the measured ones (weighted by input bytes, so one tiny bin cannot
 * swing the estimate): a format measured before moves `1 - weightOfPrevious` of the way to the new
 * measurement, one never measured takes it as it is.
 */
export function mergeOutputRatios(previous: MeasuredRatios, observations: readonly RatioObservation[], weightOfPrevious = 0.5): MeasuredRatios {
  const next = { ...previous };
  const byFormat = new Map<InputFormat, { inputBytes: number; outputBytes: number }>();
  for (const o of observations) {
    if (!(o.inputBytes > 0)) continue;
    const acc = byFormat.get(o.format) ?? { inputBytes: 0, outputBytes: 0 };
    acc.inputBytes += o.inputBytes;
    acc.outputBytes += o.outputBytes;
    byFormat.set(o.format, acc);
  }
  for (const [format, { inputBytes, outputBytes }] of byFormat) {
    const observed = Math.min(MAX_OUTPUT_RATIO, Math.max(MIN_OUTPUT_RATIO, outputBytes / inputBytes));
    const before = previous[format];
    next[format] = before === undefined ? observed : weightOfPrevious * before + (1 - weightOfPrevious) * observed;
  }
  return next;
}
