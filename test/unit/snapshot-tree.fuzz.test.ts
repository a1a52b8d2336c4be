// A VM's snapshot tree as vSphere sends it (the `snapshot` property), random and damaged: the
// snapshots of a name are found wherever they sit in the tree, in tree order; damaged answers
// and arbitrary values give some snapshots or none, never an exception or an empty reference.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { snapshotsNamedIn } from '../../electron/drivers/vsphere/snapshot-tree.ts';
import { escapeXml, parseXml } from '../../electron/drivers/vsphere/xml.ts';

const runs = { numRuns: 300 };
const WANTED = 'lifeboat-backup-0f3c';

type Tree = { name: string; children: Tree[] };

const names = fc.oneof(fc.constant(WANTED), fc.constant('before upgrade'), fc.string({ maxLength: 12 }));
/** Forests up to `depth` levels (vSphere keeps at most 32 snapshots in a chain; a few levels show the walk). */
const forestOf = (depth: number): fc.Arbitrary<Tree[]> =>
  fc.array(fc.record({ name: names, children: depth > 1 ? forestOf(depth - 1) : fc.constant<Tree[]>([]) }), {
    maxLength: depth > 3 ? 2 : 3,
  });
const trees = forestOf(5);

/** The property as the property collector's answer carries it, numbering snapshots in tree order. */
function answerOf(forest: Tree[]): { text: string; wanted: string[] } {
  let next = 1;
  const wanted: string[] = [];
  const treeXml = (tag: string, tree: Tree): string => {
    const id = `snapshot-${next++}`;
    if (tree.name === WANTED) wanted.push(id);
    return (
      `<${tag} xsi:type="VirtualMachineSnapshotTree"><snapshot type="VirtualMachineSnapshot">${id}</snapshot>` +
      `<vm type="VirtualMachine">vm-42</vm><name>${escapeXml(tree.name)}</name><description></description>` +
      `<createTime>2026-12-03T07:00:00Z</createTime><state>poweredOff</state><quiesced>false</quiesced>` +
      tree.children.map((child) => treeXml('childSnapshotList', child)).join('') +
      `</${tag}>`
    );
  };
  const body = forest.map((tree) => treeXml('rootSnapshotList', tree)).join('');
  const text =
    '<returnval><obj type="VirtualMachine">vm-42</obj><propSet><name>snapshot</name>' +
    `<val xsi:type="VirtualMachineSnapshotInfo"><currentSnapshot type="VirtualMachineSnapshot">snapshot-1</currentSnapshot>${body}</val>` +
    '</propSet></returnval>';
  return { text, wanted };
}

function valOf(text: string): unknown {
  const parsed = parseXml(text) as { returnval?: { propSet?: { val?: unknown } } };
  return parsed.returnval?.propSet?.val;
}

test('the snapshots of a name are found anywhere in the tree, in tree order', () => {
  fc.assert(
    fc.property(trees, (forest) => {
      const { text, wanted } = answerOf(forest);
      const found = snapshotsNamedIn(valOf(text), WANTED);
      assert.deepEqual(
        found,
        wanted.map((value) => ({ type: 'VirtualMachineSnapshot', value })),
      );
    }),
    runs,
  );
});

test('a damaged answer gives some snapshots or none, each a real reference, never an exception', () => {
  const damage = fc.record({
    at: fc.nat(),
    cut: fc.nat({ max: 40 }),
    insert: fc.constantFrom('', '<', '>', '</name>', '<snapshot>', 'x', '<childSnapshotList>'),
  });
  fc.assert(
    fc.property(trees, damage, (forest, { at, cut, insert }) => {
      const { text } = answerOf(forest);
      const where = at % (text.length + 1);
      const damaged = text.slice(0, where) + insert + text.slice(where + cut);
      let value: unknown;
      try {
        value = valOf(damaged);
      } catch {
        return; // not XML at all: the SOAP client's own clear error, before any walk
      }
      for (const ref of snapshotsNamedIn(value, WANTED)) assert.notEqual(ref.value, '');
    }),
    runs,
  );
});

test('any value at all (what a parser might hand over) is walked without an exception', () => {
  fc.assert(
    fc.property(fc.anything(), (value) => {
      for (const info of [value, { rootSnapshotList: value }])
        for (const ref of snapshotsNamedIn(info, WANTED)) assert.notEqual(ref.value, '');
    }),
    runs,
  );
});

test('a tree deeper than any real one is cut off, not followed without end', () => {
  let deep: Record<string, unknown> = { name: WANTED, snapshot: { '#text': 'snapshot-deep', '@_type': 'VirtualMachineSnapshot' } };
  for (let depth = 0; depth < 5000; depth++) deep = { name: 'x', snapshot: 'snapshot-x', childSnapshotList: deep };
  assert.deepEqual(snapshotsNamedIn({ rootSnapshotList: deep }, WANTED), []);
});
