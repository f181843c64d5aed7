import { DuckDBInstance } from '@duckdb/node-api';
import { writeFileSync } from 'node:fs';
async function main() {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  const q = async (sql: string) => { try { const r = await c.runAndReadAll(sql); return JSON.stringify(r.getRowObjectsJson()); } catch (e) { return 'ERR ' + (e as Error).message.split('\n')[0]; } };
  const opts = `header=true, delim=',', quote='"', escape='"', all_varchar=true, allow_quoted_nulls=false, hive_partitioning=false, union_by_name=true, strict_mode=true, null_padding=false, new_line='\\n'`;
  const t = async (name: string, body: string | Buffer, o = opts) => {
    writeFileSync(`/tmp/x9/${name}.csv`, body);
    console.log(name, await q(`SELECT column_name FROM (DESCRIBE SELECT * FROM read_csv('/tmp/x9/${name}.csv', ${o}))`), (await q(`SELECT * FROM read_csv('/tmp/x9/${name}.csv', ${o})`)).slice(0, 300));
  };
  await t('h1', '" x ",y\n1,2\n');
  await t('h2', 'a,b\r\n1,2\r\n"x\r\ny",3\r\n');
  await t('h3', 'a\n1\n\n2\n');
  await t('h4', 'a,b\n1,2\n\n3,4\n');
  await t('h5', 'a,b\n1,a"b\n');
  await t('h6', 'a,b\n"1" ,2\n');
  await t('h7', 'a,b\n1,2\n', opts.replace(`new_line='\\n'`, ''));
  await t('h8', 'a,b\n1,2');
  await t('h9', 'a,b\n1,2\n', opts + `, max_line_size=20000000`);
  await t('h10', '1,2\n3,4\n');
  await t('h11', 'a,b\n#x,2\n');
  await t('h12', 'a,b\n\\N,NULL\n');
}
main();
