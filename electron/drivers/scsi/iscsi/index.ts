// The iSCSI initiator: what the rest of Lifeboat imports.
export { discoverIscsiTargets, type DiscoveredTarget } from './discovery.ts';
export { IscsiSession, type IscsiCommand, type IscsiLun, type IscsiOptions } from './session.ts';
export { parseIscsiUrl, type IscsiTarget } from './url.ts';
