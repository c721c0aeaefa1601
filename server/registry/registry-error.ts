/**
 * The registry holds `maxKeys` live keys and will not forget one to make room: the caller
 * decides (answer 503, raise the cap, shorten TTLs). A fixed message, nothing from the key.
 */
export class KeyRegistryFullError extends Error {
  override readonly name = 'KeyRegistryFullError';
  readonly code = 'ERR_IPSTAMP_REGISTRY_FULL' as const;

  constructor() {
    super('the key registry is full of live keys');
  }
}

export function isKeyRegistryFullError(value: unknown): value is KeyRegistryFullError {
  return value instanceof KeyRegistryFullError;
}
