// Backup twice with changes, restore every point, and let qemu-img judge the result.
import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { backupGenerations, openEngine, qemuImg, runJob, tempDir } from '../helpers/env.ts';

for (const subformat of ['monolithicFlat', 'monolithicSparse'] as const) {
  test(`backup twice and restore each point bit-identical (${subformat})`, async () => {
    const dir = await tempDir();
    const engine = await openEngine(join(dir, 'home'));
    const snapshots = await backupGenerations(engine, dir, { name: 'alpha', generations: 3, mib: 24, subformat });
    const points = engine.catalog.listPoints(engine.lookup.resolveVm('alpha').id);
    assert.deepEqual(
      points.map((point) => point.kind),
      ['incremental', 'incremental', 'full'],
    );
    assert.ok((points[0]?.changedBytes ?? 0) < (24 * 1024 * 1024) / 4, 'an incremental keeps only changed blocks');
    for (const point of points) {
      const target = join(dir, `restore-${point.sequence}`);
      const job = await runJob(
        engine,
        await engine.restores.start({ vm: 'alpha', point: String(point.sequence), target: { kind: 'local', path: target } }, 'test'),
      );
      assert.equal(job.state, 'succeeded', job.error ?? '');
      assert.deepEqual((await readdir(target)).sort(), ['alpha-flat.vmdk', 'alpha.vmdk', 'alpha.vmx']);
      assert.match(
        qemuImg('compare', '-f', 'raw', '-F', 'vmdk', snapshots[point.sequence - 1] as string, join(target, 'alpha.vmdk')),
        /identical/,
      );
      const flat = await stat(join(target, 'alpha-flat.vmdk'));
      assert.ok(flat.blocks * 512 < flat.size, 'holes stay holes in the restored flat file');
    }
  });
}
