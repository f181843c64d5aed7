/** In Lambda (AWS_EXECUTION_ENV set) every SDK client a handler builds is traced by X-Ray; elsewhere none is. */
const XRAY = 'XRaySDKInstrumentation';
const vars = { TABLE_NAME: 'sensors', LANDING_BUCKET: 'l', GOLD_BUCKET: 'g', GLUE_DATABASE: 'compactor' };

function runtime(lambda: boolean) {
  let out!: { s3: string[]; glue: string[]; sfn: string[] };
  jest.isolateModules(() => {
    if (lambda) process.env.AWS_EXECUTION_ENV = 'AWS_Lambda_nodejs24.x';
    else delete process.env.AWS_EXECUTION_ENV;
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- isolateModules needs a synchronous load of a fresh copy
    const rt = require('../../lambdas/adapters/runtime') as typeof import('../../lambdas/adapters/runtime');
    const middleware = (client: { middlewareStack: { identify(): string[] } }) => client.middlewareStack.identify();
    const r = rt.runtimeFromEnv(vars);
    const glue = rt.glueCatalogFromEnv(r.settings, vars) as unknown as { glue: { middlewareStack: { identify(): string[] } } };
    const sfn = rt.sfnExecutions() as unknown as { sfn: { middlewareStack: { identify(): string[] } } };
    out = { s3: middleware(r.s3), glue: middleware(glue.glue), sfn: middleware(sfn.sfn) };
  });
  delete process.env.AWS_EXECUTION_ENV;
  return out;
}

it('instruments the S3, Glue and Step Functions clients for X-Ray in Lambda', () => {
  const clients = runtime(true);
  for (const [name, stack] of Object.entries(clients)) expect({ name, traced: stack.some((m) => m.startsWith(XRAY)) }).toEqual({ name, traced: true });
});

it('leaves the clients as they are outside Lambda', () => {
  const clients = runtime(false);
  for (const [name, stack] of Object.entries(clients)) expect({ name, traced: stack.some((m) => m.startsWith(XRAY)) }).toEqual({ name, traced: false });
});
