import { InvalidInputError } from '../core/errors';

/** An object that cannot be read at all: set aside whole (copied to quarantine), the rest of its bin compacted. */
export class SetAsideError extends InvalidInputError {}

/** An object larger than the cap once decompressed: set aside whole instead of filling the disk. */
export class DecompressedTooLargeError extends SetAsideError {}

/** A `.gz` object that is not a complete gzip stream (truncated, or not gzip at all). */
export class CorruptObjectError extends SetAsideError {}

export const tooLarge = (label: string, max: number) =>
  new DecompressedTooLargeError(`${label} is larger than ${max} bytes once decompressed (a gzip bomb?); split the object or raise MAX_DECOMPRESSED_MB`);

/** zlib's own failures (a truncated stream, or bytes that are not gzip), as opposed to I/O ones. */
export const isZlibError = (e: unknown) => typeof (e as { code?: unknown })?.code === 'string' && /^Z_/.test((e as { code: string }).code);

/** A zlib failure once every stored byte arrived: the object is corrupt, not cut off. */
export const corrupt = (where: string, e: unknown) =>
  new CorruptObjectError(`${where} is not a readable gzip file (${(e as Error).message}): set aside whole`, { cause: e });
