/**
 * Compiled by test/package/types.test.ts against the BUILT package, by TypeScript 5.9 and 7:
 * the Hono forms docs/hono.md shows must type-check as written. TypeScript 7 once refused the
 * handler form's natural spelling (`stamp.handler((c) => c.json(…))`, TS2769: it inferred the
 * route's response as `Response` from Hono's MiddlewareHandler shape). Each @ts-expect-error
 * line must fail to compile.
 */
import { Hono, type Env } from 'hono';
import { ipstamp, type IpStampVariables, type Reason } from 'ipstamp/hono';
import { ipstamp as webIpstamp, cloudflareConnection, type Reason as WebReason } from 'ipstamp/hono/web';

const keys = { keys: [] };
const stamp = ipstamp({ keys });

// The handler form, as written in the docs: inferred Env, path and response.
const app = new Hono();
app.get(
  '/orders',
  stamp.handler((c) => c.json({ ip: c.get('ipStamp')!.ip })),
);
app.get(
  '/maybe',
  stamp.handler((c) => c.json({ ip: c.get('ipStamp')?.ip ?? null })),
);
app.get(
  '/text',
  stamp.handler((c) => c.text('x')),
);
app.post(
  '/async',
  stamp.handler(async (c) => c.json({ item: ((await c.req.json()) as { item: number }).item })),
);
app.get(
  '/annotated',
  stamp.handler((c): Response => c.json({ ip: c.get('ipStamp')?.ip })),
);
app.get('/echo', stamp);

// An app's own Env, and the path for typed params.
type AppEnv = { Bindings: { TOKEN: string } };
const typed = new Hono<AppEnv>();
typed.get(
  '/orders/:id',
  stamp.handler<AppEnv, '/orders/:id'>((c) => c.json({ id: c.req.param('id'), token: c.env.TOKEN, ip: c.get('ipStamp')?.ip })),
);
typed.get(
  '/generic',
  stamp.handler<Env, '/generic'>((c) => c.json({ ip: c.get('ipStamp')?.ip })),
);

// The middleware form, with the variables declared.
const withVariables = new Hono<{ Variables: IpStampVariables }>();
withVariables.use('/api/*', stamp);
withVariables.get('/api/orders', (c) => c.json({ ip: c.get('ipStamp')?.ip }));

// The optional twin (docs/hono.md): app-wide, with the required middleware and its handler form on routes.
const layered = new Hono<{ Variables: IpStampVariables }>();
layered.use(stamp.optional);
layered.get('/login', stamp, (c) => c.json({ ip: c.get('ipStamp')!.ip }));
layered.get(
  '/signup',
  stamp.handler((c) => c.json({ ip: c.get('ipStamp')!.ip })),
);
new Hono().get(
  '/maybe',
  stamp.optional.handler((c) => c.json({ ip: c.get('ipStamp')?.ip ?? null })),
);

// The route's response type survives the handler form (Hono's RPC reads it).
const route = new Hono().get(
  '/typed',
  stamp.handler((c) => c.json({ answer: 42 })),
);
void route;

// ipstamp/hono/web: the same handler form.
const edge = webIpstamp({ keys, connection: cloudflareConnection });
new Hono().get(
  '/orders',
  edge.handler((c) => c.json({ ip: c.get('ipStamp')!.ip })),
);
new Hono<{ Variables: IpStampVariables }>().use(edge.optional).get(
  '/maybe',
  edge.optional.handler((c) => c.json({ ip: c.get('ipStamp')?.ip ?? null })),
);

// Report-only (docs/hono.md): the refusal is the problem responses' Reason, null or unset; both entries export the type.
const reporting = ipstamp({ keys, reportOnly: true });
new Hono<{ Variables: IpStampVariables }>().use(reporting.optional).get('/report', (c) => {
  const refusal: Reason | null | undefined = c.get('ipStampRefusal');
  const sameReason: WebReason | null | undefined = refusal;
  // @ts-expect-error ipStampRefusal is a Reason, null or unset, never any string
  const anyString: 'not-a-reason' | null | undefined = c.get('ipStampRefusal');
  return c.json({ refusal, sameReason, anyString });
});
// @ts-expect-error reportOnly is a boolean
ipstamp({ keys, reportOnly: 'yes' });

// Options are checked by name: the Fastify plugin's old spelling is no option here.
// @ts-expect-error `requireStamp` is not an option of ipstamp/hono (it is `required`)
ipstamp({ keys, requireStamp: false });
// @ts-expect-error a misspelt option
ipstamp({ keys, trustedProxy: ['10.0.0.0/8'] });
