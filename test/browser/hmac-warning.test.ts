import { afterEach, describe, expect, it, vi } from 'vitest';
import { resetSecretKeyWarning, SECRET_IN_BROWSER_WARNING, warnIfSecretKeyInBrowser } from '../../client/hmac-warning.js';

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
  resetSecretKeyWarning();
});

describe('warnIfSecretKeyInBrowser', () => {
  it('in a page: warns once that an HMAC secret is public, whatever the HS alg', () => {
    vi.stubGlobal('window', {});
    vi.stubGlobal('document', {});
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    warnIfSecretKeyInBrowser('HS256');
    warnIfSecretKeyInBrowser('HS512');
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn).toHaveBeenCalledWith(SECRET_IN_BROWSER_WARNING);
    expect(SECRET_IN_BROWSER_WARNING).toMatch(/public/);
  });

  it('in a worker (importScripts, no document) too', () => {
    vi.stubGlobal('importScripts', () => undefined);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    warnIfSecretKeyInBrowser('HS384');
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('never for asymmetric keys, and never outside a browser (Node servers and CLIs hold secrets legitimately)', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    warnIfSecretKeyInBrowser('HS256');
    vi.stubGlobal('window', {});
    vi.stubGlobal('document', {});
    warnIfSecretKeyInBrowser('ES256');
    warnIfSecretKeyInBrowser('EdDSA');
    expect(warn).not.toHaveBeenCalled();
  });
});
