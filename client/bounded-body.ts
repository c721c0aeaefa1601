/**
 * Reads at most `maxBytes` of a response body as UTF-8; undefined when the body is longer
 * (the rest is cancelled). The small JSON answers the SDK reads (echo, problem+json) never
 * come near the bound, so a hostile or broken server cannot make the client buffer a lot.
 */
export async function readBoundedText(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<string | undefined> {
  if (body === null) return '';
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        // Not awaited: on a clone (a tee branch) cancel settles only once the other branch is
        // cancelled too — the caller's own response, which it may read in full later.
        reader.cancel().catch(() => undefined);
        return undefined;
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
}
