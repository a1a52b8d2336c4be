// `lifeboat instant list`: the table, then each session's note on a line of its own, after its
// id, with control characters and bidi overrides shown escaped (a note quotes names and paths).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { InstantSession } from '../../shared/domain.ts';
import { sessionsText } from '../../electron/cli/instant-commands.ts';

function session(id: string, state: InstantSession['state'], note: string | null): InstantSession {
  return {
    id,
    vmId: 'vm-1',
    vmName: 'app-01',
    pointId: 'p-1',
    name: 'app-01-ir',
    host: 'vc',
    hostSystem: null,
    datastore: 'lifeboat-ir',
    nfsUrl: 'nfs://127.0.0.1/ir',
    allowed: [],
    writesTo: '/home/ir',
    redirected: false,
    state,
    note,
    createdAt: new Date().toISOString(),
    endedAt: null,
    poweredOnSeconds: null,
    firstReadSeconds: null,
    cacheBytes: 0,
    bytesRead: 0,
    bytesWritten: 0,
    jobId: null,
  };
}

test('instant list: a line per note after the table, escaped; none without notes', () => {
  const quiet = sessionsText([session('aaaaaaaa-1', 'running', null)]);
  assert.equal(quiet.split('\n').length, 2, 'the heading and one row');
  const text = sessionsText([
    session('aaaaaaaa-1', 'running', null),
    session('bbbbbbbb-2', 'running', 'not served now: the engine of the home it was started from (/srv/ws\u202e2\n) is not running'),
    session('cccccccc-3', 'failed', 'the host refused the datastore'),
  ]);
  const lines = text.split('\n');
  assert.equal(lines.length, 4 + 1 + 2);
  assert.equal(lines[4], '');
  assert.equal(lines[5], 'bbbbbbbb: not served now: the engine of the home it was started from (/srv/ws\\u202e2\\x0a) is not running');
  assert.equal(lines[6], 'cccccccc: the host refused the datastore');
});
