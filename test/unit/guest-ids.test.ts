// The .vmx guestOS ↔ API guestId pairs: the listed exceptions, the rule, and the round trip the
// backup (.vmx written from the API) and the restore (ConfigSpec from the .vmx) rely on.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { guestIdOf, guestOsOf } from '../../electron/drivers/vsphere/guest-ids.ts';

const pairs: [string, string][] = [
  ['ubuntu-64', 'ubuntu64Guest'],
  ['ubuntu', 'ubuntuGuest'],
  ['debian12-64', 'debian12_64Guest'],
  ['rhel9-64', 'rhel9_64Guest'],
  ['centos-64', 'centos64Guest'],
  ['centos8-64', 'centos8_64Guest'],
  ['windows9-64', 'windows9_64Guest'],
  ['windows9srv-64', 'windows9Server64Guest'],
  ['windows2019srv-64', 'windows2019srv_64Guest'],
  ['other-64', 'otherGuest64'],
  ['other', 'otherGuest'],
  ['otherlinux-64', 'otherLinux64Guest'],
  ['other5xlinux-64', 'other5xLinux64Guest'],
  ['rockylinux-64', 'rockylinux_64Guest'],
  ['vmware-photon-64', 'vmwarePhoton64Guest'],
  ['winnetenterprise-64', 'winNetEnterprise64Guest'],
];

test('guest ids: each .vmx guestOS maps to the guestId ESXi knows, and back', () => {
  for (const [vmx, guestId] of pairs) {
    assert.equal(guestIdOf(vmx), guestId, vmx);
    assert.equal(guestOsOf(guestId), vmx, guestId);
  }
  // .vmx files written by hand use any case.
  assert.equal(guestIdOf('Ubuntu-64'), 'ubuntu64Guest');
});

test('guest ids: a malformed or missing guestOS is a 64-bit "other", never a made-up id with odd characters', () => {
  for (const bad of [undefined, '', 'ubuntu 64', 'x"; rm', 'ü-64']) assert.equal(guestIdOf(bad), 'otherGuest64');
  assert.equal(guestOsOf('not a guest id'), 'other-64');
});

test('guest ids: guestOsOf then guestIdOf gives the guestId back for any id of the usual shape', () => {
  const id = fc
    .tuple(fc.stringMatching(/^[a-z][a-z0-9]{0,12}[a-z]$/), fc.boolean(), fc.constantFrom('', '7', '12'))
    .map(([name, wide, version]) => `${name}${version}${wide ? (version ? '_64' : '64') : ''}Guest`);
  fc.assert(
    fc.property(id, (guestId) => {
      if (guestOsOf(guestId).endsWith('-64') !== /64Guest$/.test(guestId)) return;
      assert.equal(guestIdOf(guestOsOf(guestId)), guestId);
    }),
  );
});
