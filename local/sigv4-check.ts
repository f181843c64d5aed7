import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Signature Version 4 verification, which s3rver skips ("V4 signatures have incomplete support":
 * it accepts any signature from a known access key). Written from the AWS specification, not
 * from the SDK's signer, so a request the SDK or our own GET path signs wrongly fails here with
 * 403 SignatureDoesNotMatch, as it would on S3.
 */
export interface SigV4Request {
  readonly method: string;
  /** Path and query exactly as sent, e.g. `/bucket/a%20b.json?list-type=2`. */
  readonly url: string;
  /** Header names lowercased (as Node gives them). */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

const AUTH = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/;

/** RFC 3986 encoding as SigV4 wants it: every byte but A-Z a-z 0-9 - . _ ~ as %XX (and `/` where kept). */
function uriEncode(s: string, keepSlash: boolean): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9\-._~]/.test(c) || (keepSlash && c === '/') ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const decode = (s: string) => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

function canonicalQuery(query: string): string {
  if (!query) return '';
  return query
    .split('&')
    .filter(Boolean)
    .map((pair) => {
      const eq = pair.indexOf('=');
      const [k, v] = eq === -1 ? [pair, ''] : [pair.slice(0, eq), pair.slice(eq + 1)];
      return [uriEncode(decode(k), false), uriEncode(decode(v), false)] as const;
    })
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();

/** Why the request's signature is not valid for `secretOf(accessKeyId)`, or undefined when it is. */
export function sigv4Problem(req: SigV4Request, secretOf: (accessKeyId: string) => string | undefined): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth !== 'string') return 'the request is not signed (no Authorization header)';
  const m = AUTH.exec(auth);
  if (!m) return `Authorization is not a SigV4 header: ${auth.slice(0, 80)}`;
  const [, accessKeyId, day, region, service, signedHeaders, signature] = m;
  const secret = secretOf(accessKeyId);
  if (secret === undefined) return `unknown access key ${accessKeyId}`;
  const amzDate = req.headers['x-amz-date'];
  if (typeof amzDate !== 'string' || !amzDate.startsWith(day)) return `x-amz-date ${String(amzDate)} does not match the credential scope date ${day}`;
  const payloadHash = req.headers['x-amz-content-sha256'];
  if (typeof payloadHash !== 'string') return 'x-amz-content-sha256 is missing';

  const q = req.url.indexOf('?');
  const path = q === -1 ? req.url : req.url.slice(0, q);
  const names = signedHeaders.split(';');
  if (!names.includes('host')) return 'the host header is not signed';
  const headerLines = names.map((n) => {
    const v = req.headers[n];
    const value = (Array.isArray(v) ? v.join(',') : v ?? '').trim().replace(/\s+/g, ' ');
    return `${n}:${value}\n`;
  });
  const canonical = [
    req.method,
    path.split('/').map((seg) => uriEncode(decode(seg), false)).join('/'),
    canonicalQuery(q === -1 ? '' : req.url.slice(q + 1)),
    headerLines.join(''),
    signedHeaders,
    payloadHash,
  ].join('\n');
  const scope = `${day}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonical, 'utf8').digest('hex')].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, day), region), service), 'aws4_request');
  const expected = hmac(key, toSign);
  if (!timingSafeEqual(expected, Buffer.from(signature, 'hex'))) return 'the signature does not match the request';
  return undefined;
}

interface Ctx {
  method: string;
  url: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  status: number;
  body: unknown;
  type: string;
}

/** Koa middleware for the loopback server: 403 SignatureDoesNotMatch, as S3 answers, for a bad signature. */
export function sigv4Verification(credentials: { accessKeyId: string; secretAccessKey: string }) {
  const secretOf = (id: string) => (id === credentials.accessKeyId ? credentials.secretAccessKey : undefined);
  return async (ctx: Ctx, next: () => Promise<void>): Promise<void> => {
    const problem = sigv4Problem(ctx, secretOf);
    if (problem) {
      ctx.status = 403;
      ctx.type = 'application/xml';
      ctx.body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SignatureDoesNotMatch</Code><Message>${problem.replace(/[<&]/g, ' ')}</Message></Error>`;
      return;
    }
    await next();
  };
}
