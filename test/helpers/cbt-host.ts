// A host that offers Changed Block Tracking, played through the fault proxy where vcsim has none:
// SOAP answers of the test's own, and the capability an ESXi host reports for a VM whose virtual
// hardware can track changes.
import type { MoRef } from '../../electron/drivers/vsphere/xml.ts';
import type { FaultRule } from './fault-proxy.ts';

/** A SOAP answer to `method` with this returnval, as vSphere wraps it. */
export const soapAnswer = (method: string, returnval: string): string =>
  '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">' +
  `<soapenv:Body><${method}Response xmlns="urn:vim25">${returnval}</${method}Response></soapenv:Body></soapenv:Envelope>`;

/** What an ESXi host answers for a VM whose virtual hardware can track changes. */
export function offersChangeTracking(vm: MoRef): FaultRule {
  return {
    answer: (method, body) =>
      method === 'RetrievePropertiesEx' && body.includes('<pathSet>capability.changeTrackingSupported</pathSet>')
        ? soapAnswer(
            method,
            `<returnval><objects><obj type="${vm.type}">${vm.value}</obj><propSet><name>capability.changeTrackingSupported</name><val xsi:type="xsd:boolean">true</val></propSet></objects></returnval>`,
          )
        : null,
  };
}
