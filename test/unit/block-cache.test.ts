// The engine's shared cache of decoded blocks: under any interleaving of reads, read-ahead and
// loads that finish or fail in any order, it keeps no more bytes than its bound, runs one load per
// block and no more loads at once than allowed, and hands every reader its block; readers' loads
// go before read-ahead, and read-ahead does not push out what was read ahead and not read yet.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { BlockCache, blockCacheBytesFrom } from '../../electron/repository/block-cache.ts';

/** Loads the test finishes by hand, in the order it chooses. */
class Loads {
  readonly started: { key: string; finish(ok: boolean): void }[] = [];
  readonly order: string[] = [];
  for(key: string, size: number): () => Promise<Uint8Array> {
    return () =>
      new Promise<Uint8Array>((resolve, reject) => {
        this.order.push(key);
        this.started.push({
          key,
          finish: (ok) => (ok ? resolve(blockOf(key, size)) : reject(new Error(`load of ${key} failed`))),
        });
      });
  }
  /** Finishes the `at`-th load still running. */
  finish(at: number, ok: boolean): void {
    const [load] = this.started.splice(at % this.started.length, 1);
    load?.finish(ok);
  }
}

const blockOf = (key: string, size: number): Uint8Array => new Uint8Array(size).fill(Number(key.slice(1)) + 1);
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

const operation = fc.oneof(
  fc.record({ kind: fc.constant('get' as const), key: fc.nat(9), size: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant('ahead' as const), key: fc.nat(9), size: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant('finish' as const), at: fc.nat(20), ok: fc.boolean() }),
);

test('any interleaving: bytes within the bound, one load per block, loads within the cap, every reader gets its block', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(operation, { maxLength: 60 }),
      fc.integer({ min: 0, max: 120 }),
      fc.integer({ min: 1, max: 4 }),
      async (operations, maxBytes, decoding) => {
        const cache = new BlockCache({ maxBytes, decoding });
        const loads = new Loads();
        /** One size per key, as a block has one length. */
        const sizes = new Map<string, number>();
        const readers: { key: string; size: number; result: Promise<Uint8Array | Error> }[] = [];
        const check = (): void => {
          const stats = cache.stats();
          assert.ok(stats.bytes <= maxBytes && stats.peakBytes <= maxBytes, `${stats.bytes} bytes kept, bound ${maxBytes}`);
          assert.ok(stats.decoding <= decoding);
          assert.ok(stats.aheadBytes >= 0 && stats.aheadBytes <= Math.floor(maxBytes / 4), `${stats.aheadBytes} bytes read ahead`);
          const running = loads.started.map((load) => load.key);
          assert.equal(new Set(running).size, running.length, `one load per block: ${running.join(',')}`);
        };
        for (const step of operations) {
          if (step.kind === 'finish') {
            if (loads.started.length > 0) loads.finish(step.at, step.ok);
          } else {
            const key = `k${step.key}`;
            const size = sizes.get(key) ?? step.size;
            sizes.set(key, size);
            if (step.kind === 'get')
              readers.push({ key, size, result: cache.get(key, size, loads.for(key, size)).catch((error: Error) => error) });
            else cache.prefetch(key, size, loads.for(key, size));
          }
          await settle();
          check();
        }
        // Whatever is left finishes (a bounded loop: each round finishes one load).
        for (let round = 0; round < 200 && loads.started.length > 0; round++) {
          loads.finish(0, true);
          await settle();
          check();
        }
        assert.equal(loads.started.length, 0);
        for (const reader of readers) {
          const result = await reader.result;
          if (result instanceof Error) assert.match(result.message, new RegExp(`load of ${reader.key} failed`));
          else assert.deepEqual(result, blockOf(reader.key, reader.size));
        }
        assert.equal(cache.stats().decoding, 0);
        assert.equal(cache.stats().queued, 0);
        // Nothing is left read ahead and unread once every reader of it has read it.
        for (const [key, size] of sizes) {
          const block = cache.get(key, size, loads.for(key, size));
          loads.finish(0, true);
          assert.deepEqual(await block, blockOf(key, size));
        }
        assert.equal(cache.stats().aheadBytes, 0);
      },
    ),
    { numRuns: 300 },
  );
});

test("a reader's load goes before queued read-ahead, and read-ahead takes at most half the slots", async () => {
  const cache = new BlockCache({ maxBytes: 1000, decoding: 2, aheadBytes: 100 });
  const loads = new Loads();
  for (const key of ['k1', 'k2', 'k3']) cache.prefetch(key, 10, loads.for(key, 10));
  await settle();
  assert.deepEqual(loads.order, ['k1'], 'one of the two slots is left for readers');
  const read = cache.get('k9', 10, loads.for('k9', 10));
  await settle();
  assert.deepEqual(loads.order, ['k1', 'k9'], 'the reader does not wait for k1');
  // Reading a block queued as read-ahead moves it before the rest of the read-ahead.
  const promoted = cache.get('k3', 10, loads.for('k3', 10));
  loads.finish(1, true);
  await settle();
  assert.deepEqual(loads.order, ['k1', 'k9', 'k3']);
  assert.deepEqual(await read, blockOf('k9', 10));
  for (let round = 0; round < 10 && loads.started.length > 0; round++) {
    loads.finish(0, true);
    await settle();
  }
  assert.deepEqual(await promoted, blockOf('k3', 10));
  assert.deepEqual(loads.order, ['k1', 'k9', 'k3', 'k2']);
  assert.equal(cache.stats().loads, 4);
  assert.equal(cache.stats().joined, 1);
});

test('read-ahead not read yet leaves after ordinary blocks; past its budget it is dropped or ages into an ordinary block', async () => {
  const cache = new BlockCache({ maxBytes: 40, decoding: 4, aheadBytes: 20 });
  const loads = new Loads();
  const drain = async (): Promise<void> => {
    for (let round = 0; round < 20 && loads.started.length > 0; round++) {
      loads.finish(0, true);
      await settle();
    }
  };
  cache.prefetch('k1', 10, loads.for('k1', 10));
  await drain();
  cache.prefetch('k2', 10, loads.for('k2', 10));
  await drain();
  // Two ordinary blocks fill the cache: the older ordinary one leaves, not the read-ahead.
  for (const key of ['k5', 'k6', 'k7']) {
    const block = cache.get(key, 10, loads.for(key, 10));
    await drain();
    await block;
  }
  assert.equal(cache.stats().bytes, 40);
  loads.order.length = 0;
  for (const key of ['k1', 'k2', 'k6', 'k7']) await cache.get(key, 10, loads.for(key, 10));
  assert.deepEqual(loads.order, [], 'k1, k2 (read ahead) and the two newest ordinary blocks were kept');
  // While two loads ahead fill the budget, more read-ahead is dropped.
  cache.prefetch('k3', 10, loads.for('k3', 10));
  cache.prefetch('k4', 10, loads.for('k4', 10));
  cache.prefetch('k8', 10, loads.for('k8', 10));
  assert.equal(cache.stats().aheadDropped, 1);
  await drain();
  // Kept and unread, k3 and k4 make room for newer read-ahead: the older one becomes ordinary.
  cache.prefetch('k8', 10, loads.for('k8', 10));
  assert.equal(cache.stats().aheadDropped, 1);
  await drain();
  assert.ok(cache.stats().bytes <= 40);
});

test("a reader that joined another's load gets its block when that load fails (its disk closed): its own load runs", async () => {
  // One slot: the first session's load of K waits in the queue; the session stops before it runs.
  const cache = new BlockCache({ maxBytes: 1000, decoding: 1 });
  const loads = new Loads();
  const busy = cache.get('k0', 10, loads.for('k0', 10));
  let firstClosed = false;
  const first = cache.get('k1', 10, async () => {
    if (firstClosed) throw new Error('the first disk is closed');
    return blockOf('k1', 10);
  });
  const second = cache.get('k1', 10, loads.for('k1', 10));
  firstClosed = true;
  loads.finish(0, true);
  await busy;
  await settle();
  assert.deepEqual(loads.order, ['k0', 'k1'], "the second reader's own load ran after the first one's failed");
  loads.finish(0, true);
  assert.deepEqual(await second, blockOf('k1', 10));
  assert.deepEqual(await first, blockOf('k1', 10), 'the block is good whoever loaded it');
  // A block that fails every load fails every reader, after each load was tried once.
  const tries: string[] = [];
  const bad = (who: string) => async (): Promise<Uint8Array> => {
    tries.push(who);
    throw new Error(`corrupt block (${who})`);
  };
  const readers = [cache.get('k2', 10, bad('a')), cache.get('k2', 10, bad('b'))];
  for (const reader of readers) await assert.rejects(reader, /corrupt block/);
  assert.deepEqual(tries, ['a', 'b']);
  assert.equal(cache.stats().queued, 0);
});

test('a block larger than the bound is handed to its reader and not kept', async () => {
  const cache = new BlockCache({ maxBytes: 8, decoding: 1 });
  let loads = 0;
  const load = async () => (loads++, new Uint8Array(16));
  assert.equal((await cache.get('big', 16, load)).length, 16);
  assert.equal((await cache.get('big', 16, load)).length, 16);
  assert.equal(loads, 2);
  assert.equal(cache.stats().bytes, 0);
});

test('the bound from the environment: 256 MiB unless LIFEBOAT_BLOCK_CACHE_MIB names whole MiB', () => {
  assert.equal(blockCacheBytesFrom({}), 256 * 2 ** 20);
  assert.equal(blockCacheBytesFrom({ LIFEBOAT_BLOCK_CACHE_MIB: '64' }), 64 * 2 ** 20);
  assert.equal(blockCacheBytesFrom({ LIFEBOAT_BLOCK_CACHE_MIB: '0' }), 0);
  for (const bad of ['-1', '1.5', 'lots', '1e3', '99999999999999'])
    assert.throws(() => blockCacheBytesFrom({ LIFEBOAT_BLOCK_CACHE_MIB: bad }), { code: 'bad-request' }, bad);
});
