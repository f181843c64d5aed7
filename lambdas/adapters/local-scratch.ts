import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Scratch, Workspace } from '../core/ports';

/** Workspaces as directories under `dir`, each made with a unique name (mkdtemp). */
export function localScratch(dir: string): Scratch {
  return {
    async open(label: string): Promise<Workspace> {
      await mkdir(dir, { recursive: true });
      const root = await mkdtemp(join(dir, `${label}-`));
      const path = (name: string) => join(root, name);
      return {
        path,
        async save(name: string, body: Buffer | Readable): Promise<string> {
          const to = path(name);
          if (Buffer.isBuffer(body)) await writeFile(to, body);
          else await pipeline(body, createWriteStream(to));
          return to;
        },
        close: () => rm(root, { recursive: true, force: true }),
      };
    },
  };
}
