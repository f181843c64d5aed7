/** Byte-level helpers for line-delimited records. */
export const NEWLINE = Buffer.from('\n');

/** Space, tab or CR: what a JSON Lines record may hold around its value. */
export const isBlankByte = (b: number) => b === 0x20 || b === 0x09 || b === 0x0d;

/** A line holding only blank bytes (not a record). */
export const isBlankLine = (line: Uint8Array) => line.every(isBlankByte);
