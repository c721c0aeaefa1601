import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Verdict } from '../../server/verify/types.js';

/**
 * The `@IpStamp()` parameter decorator of docs/node.md#nestjs-express-platform and
 * docs/fastify.md#nestjs-fastify-platform, line for line: the verdict ipstamp put on the
 * request, on either platform — `req.ipStamp` of ipstamp/node's middleware (Express) or of the
 * Fastify plugin. `null` on a route where a stamp is optional and none came.
 */
export const IpStamp = createParamDecorator(
  (_data: unknown, context: ExecutionContext): Verdict | null => context.switchToHttp().getRequest<{ ipStamp?: Verdict | null }>().ipStamp ?? null,
);
