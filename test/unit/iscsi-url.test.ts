// iscsi:// addresses and LUN fields: the forms libiscsi and QEMU accept, and clear refusals.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LifeboatError } from '../../electron/errors.ts';
import { decodeLun, encodeLun } from '../../electron/drivers/scsi/iscsi/luns.ts';
import { iscsiAddress, parseIscsiUrl } from '../../electron/drivers/scsi/iscsi/url.ts';

test('iscsi:// addresses: host, port (3260 by default), target name, optional LUN, IPv6 in brackets', () => {
  assert.deepEqual(parseIscsiUrl('iscsi://10.0.0.5/iqn.2012-08.org.example:vtl'), {
    host: '10.0.0.5',
    port: 3260,
    targetName: 'iqn.2012-08.org.example:vtl',
  });
  assert.deepEqual(parseIscsiUrl('iscsi://tape.example.org:3261/iqn.2012-08.org.example:vtl/3'), {
    host: 'tape.example.org',
    port: 3261,
    targetName: 'iqn.2012-08.org.example:vtl',
    lun: 3,
  });
  assert.deepEqual(parseIscsiUrl('iscsi://[fe80::1]:3260/eui.0123456789abcdef/0'), {
    host: 'fe80::1',
    port: 3260,
    targetName: 'eui.0123456789abcdef',
    lun: 0,
  });
  assert.equal(iscsiAddress({ host: 'fe80::1', port: 3260, targetName: 'iqn.x' }), 'iscsi://[fe80::1]:3260/iqn.x');
  for (const bad of [
    'iscsi://host',
    'http://host/iqn.x',
    'iscsi://host:99999/iqn.x',
    'iscsi://host/notaname',
    'iscsi://host/iqn.x/99999',
    'iscsi://a@host/iqn.x',
  ]) {
    assert.throws(
      () => parseIscsiUrl(bad),
      (error: unknown) => error instanceof LifeboatError && error.code === 'bad-request',
      bad,
    );
  }
});

test('LUN fields: peripheral form below 256, flat space above; other forms are not ours', () => {
  for (const lun of [0, 1, 255, 256, 4000, 16383]) assert.equal(decodeLun(encodeLun(lun)), lun);
  assert.deepEqual([...encodeLun(2)], [0, 2, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual([...encodeLun(300)], [0x41, 0x2c, 0, 0, 0, 0, 0, 0]);
  assert.equal(decodeLun(Uint8Array.from([0x00, 1, 0x40, 2, 0, 0, 0, 0])), null);
  assert.equal(decodeLun(Uint8Array.from([0xc0, 1, 0, 0, 0, 0, 0, 0])), null);
  assert.throws(() => encodeLun(16384), LifeboatError);
});
