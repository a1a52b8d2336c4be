// An OVF 1.0 descriptor for restored disks: the VM's hardware from its backed-up configuration
// and a Disk per restored VMDK, for the operator to edit and import on any hypervisor.
import { escapeXml } from '../drivers/vsphere/xml.ts';
import type { VmShape } from './vm-shape.ts';

export type TemplateDisk = { fileName: string; fileSize: number; capacity: number };

function item(lines: Record<string, string | number>): string {
  return `      <Item>\n${Object.entries(lines)
    .map(([key, value]) => `        <rasd:${key}>${escapeXml(String(value))}</rasd:${key}>`)
    .join('\n')}\n      </Item>`;
}

/** A VM the platform encrypted keeps its key reference (provider and key id in the key safe). */
function keyReference(vm: VmShape): string {
  if (!vm.platformKey) return '';
  return `\n      <!-- encrypted by the platform: key ${escapeXml(vm.platformKey.keyId)} of key provider ${escapeXml(vm.platformKey.providerId)} -->\n      <vmw:ExtraConfig ovf:required="false" vmw:key="encryption.keySafe" vmw:value="${escapeXml(vm.platformKey.keySafe)}"/>`;
}

export function ovfDescriptor(vm: VmShape, disks: TemplateDisk[]): string {
  const networks = [...new Set(vm.nics.map((nic) => nic.network))];
  const items = [
    item({
      AllocationUnits: 'hertz * 10^6',
      Description: 'Number of virtual CPUs',
      ElementName: `${vm.cpus} virtual CPU(s)`,
      InstanceID: 1,
      ResourceType: 3,
      VirtualQuantity: vm.cpus,
    }),
    item({
      AllocationUnits: 'byte * 2^20',
      Description: 'Memory size',
      ElementName: `${vm.memoryMib}MB of memory`,
      InstanceID: 2,
      ResourceType: 4,
      VirtualQuantity: vm.memoryMib,
    }),
    item({
      Address: 0,
      Description: 'SCSI controller',
      ElementName: 'SCSI controller 0',
      InstanceID: 3,
      ResourceSubType: vm.scsi,
      ResourceType: 6,
    }),
    ...disks.map((_, index) =>
      item({
        AddressOnParent: index,
        ElementName: `Hard disk ${index + 1}`,
        HostResource: `ovf:/disk/vmdisk${index + 1}`,
        InstanceID: 10 + index,
        Parent: 3,
        ResourceType: 17,
      }),
    ),
    ...vm.nics.map((nic, index) =>
      item({
        AddressOnParent: 7 + index,
        AutomaticAllocation: 'true',
        Connection: nic.network,
        ElementName: `Network adapter ${index + 1}`,
        InstanceID: 100 + index,
        ResourceSubType: nic.adapter,
        ResourceType: 10,
      }),
    ),
  ];
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by Lifeboat from a restore point: edit the hardware below before you import it. -->
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" xmlns:vmw="http://www.vmware.com/schema/ovf" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <References>
${disks.map((disk, index) => `    <File ovf:href="${escapeXml(disk.fileName)}" ovf:id="file${index + 1}" ovf:size="${disk.fileSize}"/>`).join('\n')}
  </References>
  <DiskSection>
    <Info>Virtual disks</Info>
${disks.map((disk, index) => `    <Disk ovf:capacity="${disk.capacity}" ovf:capacityAllocationUnits="byte" ovf:diskId="vmdisk${index + 1}" ovf:fileRef="file${index + 1}" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#monolithicFlat"/>`).join('\n')}
  </DiskSection>
  <NetworkSection>
    <Info>Logical networks</Info>
${networks.map((network) => `    <Network ovf:name="${escapeXml(network)}">\n      <Description>${escapeXml(network)}</Description>\n    </Network>`).join('\n')}
  </NetworkSection>
  <VirtualSystem ovf:id="${escapeXml(vm.name)}">
    <Info>A virtual machine</Info>
    <Name>${escapeXml(vm.name)}</Name>
    <OperatingSystemSection ovf:id="${vm.windows ? 1 : 36}">
      <Info>The guest operating system</Info>
      <Description>${escapeXml(vm.guestOs)}</Description>
    </OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware requirements</Info>
      <System>
        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>
        <vssd:InstanceID>0</vssd:InstanceID>
        <vssd:VirtualSystemIdentifier>${escapeXml(vm.name)}</vssd:VirtualSystemIdentifier>
        <vssd:VirtualSystemType>vmx-13</vssd:VirtualSystemType>
      </System>
${items.join('\n')}${keyReference(vm)}
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
`;
}
