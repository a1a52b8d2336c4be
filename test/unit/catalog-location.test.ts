// A catalog's location in messages, logs and the audit log: a PostgreSQL URL never shows a
// password, whether in its user part or in a parameter; a SQLite path is shown as it is.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeLocation, isPostgresLocation } from '../../electron/catalog-location.ts';

test('a PostgreSQL URL is told from a path; its password is never shown', () => {
  assert.equal(isPostgresLocation('postgresql://db/lifeboat'), true);
  assert.equal(isPostgresLocation('POSTGRES://db/lifeboat'), true);
  assert.equal(isPostgresLocation('/srv/lifeboat/catalog.sqlite'), false);
  assert.equal(isPostgresLocation('postgressql://u:secret@db/x'), false);
  for (const url of [
    'postgresql://alice:s3cret@db.example:5432/lifeboat',
    'postgresql://alice@db.example/lifeboat?password=s3cret&sslmode=require',
    'postgresql://alice@db.example/lifeboat?sslpassword=s3cret',
    'postgresql://alice@db.example/lifeboat?PASSWORD=s3cret',
  ]) {
    const shown = describeLocation(url);
    assert.doesNotMatch(shown, /s3cret/, shown);
    assert.match(shown, /db\.example/);
  }
  assert.equal(describeLocation('/srv/lifeboat/catalog.sqlite'), '/srv/lifeboat/catalog.sqlite');
});
