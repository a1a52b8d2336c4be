// vSphere names a guest OS twice: the API's guestId ("ubuntu64Guest") and the .vmx's guestOS
// ("ubuntu-64"). Most pairs follow one rule (lower case, "_64Guest" after a version number,
// "64Guest" after a name), but common ones do not, and ESXi refuses or mislabels a guestId that
// does not exist: those are listed here, the rule covers the rest.
const EXCEPTIONS: [vmx: string, guestId: string][] = [
  ['other', 'otherGuest'],
  ['other-64', 'otherGuest64'],
  ['otherlinux', 'otherLinuxGuest'],
  ['otherlinux-64', 'otherLinux64Guest'],
  ['other24xlinux', 'other24xLinuxGuest'],
  ['other24xlinux-64', 'other24xLinux64Guest'],
  ['other26xlinux', 'other26xLinuxGuest'],
  ['other26xlinux-64', 'other26xLinux64Guest'],
  ['other3xlinux', 'other3xLinuxGuest'],
  ['other3xlinux-64', 'other3xLinux64Guest'],
  ['other4xlinux', 'other4xLinuxGuest'],
  ['other4xlinux-64', 'other4xLinux64Guest'],
  ['other5xlinux', 'other5xLinuxGuest'],
  ['other5xlinux-64', 'other5xLinux64Guest'],
  ['other6xlinux', 'other6xLinuxGuest'],
  ['other6xlinux-64', 'other6xLinux64Guest'],
  ['oraclelinux', 'oracleLinuxGuest'],
  ['oraclelinux-64', 'oracleLinux64Guest'],
  ['oraclelinux7-64', 'oracleLinux7_64Guest'],
  ['oraclelinux8-64', 'oracleLinux8_64Guest'],
  ['oraclelinux9-64', 'oracleLinux9_64Guest'],
  ['rockylinux-64', 'rockylinux_64Guest'],
  ['almalinux-64', 'almalinux_64Guest'],
  ['vmware-photon-64', 'vmwarePhoton64Guest'],
  ['winnetenterprise', 'winNetEnterpriseGuest'],
  ['winnetenterprise-64', 'winNetEnterprise64Guest'],
  ['winnetstandard', 'winNetStandardGuest'],
  ['winnetstandard-64', 'winNetStandard64Guest'],
  ['longhorn', 'winLonghornGuest'],
  ['longhorn-64', 'winLonghorn64Guest'],
  ['windows7srv-64', 'windows7Server64Guest'],
  ['windows8srv-64', 'windows8Server64Guest'],
  ['windows9srv-64', 'windows9Server64Guest'],
  ['windows2019srv-64', 'windows2019srv_64Guest'],
  ['windows2019srvnext-64', 'windows2019srvNext_64Guest'],
  ['windows2022srvnext-64', 'windows2022srvNext_64Guest'],
  ['winxppro', 'winXPProGuest'],
  ['winxppro-64', 'winXPPro64Guest'],
  ['winvista', 'winVistaGuest'],
  ['winvista-64', 'winVista64Guest'],
];
const GUEST_ID_OF = new Map(EXCEPTIONS);
const VMX_OF = new Map(EXCEPTIONS.map(([vmx, guestId]) => [guestId, vmx]));

/** The API's guestId for a .vmx guestOS; an unknown or malformed one is "other" (64-bit). */
export function guestIdOf(guestOs: string | undefined): string {
  const vmx = guestOs?.toLowerCase();
  if (!vmx || !/^[a-z0-9-]+$/.test(vmx)) return 'otherGuest64';
  const listed = GUEST_ID_OF.get(vmx);
  if (listed) return listed;
  const base = vmx.replace(/-64$/, '');
  if (base === vmx) return `${base}Guest`;
  return `${base}${/\d$/.test(base) ? '_64' : '64'}Guest`;
}

/** The .vmx guestOS of an API guestId; guestIdOf gives the same guestId back. */
export function guestOsOf(guestId: string): string {
  const listed = VMX_OF.get(guestId);
  if (listed) return listed;
  const match = /^([A-Za-z0-9]+?)(_?64)?Guest$/.exec(guestId);
  if (!match?.[1]) return 'other-64';
  return `${match[1].toLowerCase()}${match[2] ? '-64' : ''}`;
}
