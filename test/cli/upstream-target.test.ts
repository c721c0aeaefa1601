import { describe, expect, it } from 'vitest';
import { describeUpstream, parseUpstreamUrl, upstreamPath } from '../../server/cli/upstream-target.js';

describe('--upstream: an origin and a base path', () => {
  it.each([
    ['http://127.0.0.1:9000', { origin: 'http://127.0.0.1:9000', basePath: '' }],
    ['http://127.0.0.1:9000/', { origin: 'http://127.0.0.1:9000', basePath: '' }],
    ['http://127.0.0.1:9000/api', { origin: 'http://127.0.0.1:9000', basePath: '/api' }],
    ['http://127.0.0.1:9000/api/', { origin: 'http://127.0.0.1:9000', basePath: '/api' }],
    ['https://app.internal/v1/api', { origin: 'https://app.internal', basePath: '/v1/api' }],
  ])('%s', (raw, target) => {
    expect(parseUpstreamUrl(raw)).toEqual(target);
  });

  it.each(['ftp://127.0.0.1/', 'http://u:p@127.0.0.1/', 'http://127.0.0.1/api?x=1', 'http://127.0.0.1/api?', 'http://127.0.0.1/#top', '127.0.0.1:9000', ''])(
    'refuses %j',
    (raw) => {
      expect(parseUpstreamUrl(raw)).toBeUndefined();
    },
  );

  it.each([
    ['', '/x?q=1', '/x?q=1'],
    ['', '/', '/'],
    ['/api', '/x?q=1&r=%20', '/api/x?q=1&r=%20'],
    ['/api', '/', '/api/'],
    ['/api', '//double', '/api//double'],
  ])('base %j + %j → %j', (basePath, target, expected) => {
    expect(upstreamPath({ origin: 'http://u', basePath }, target)).toBe(expected);
  });

  it('is described with its base path', () => {
    expect(describeUpstream({ origin: 'http://127.0.0.1:9000', basePath: '/api' })).toBe('http://127.0.0.1:9000/api');
  });
});
