// An Azure Resource Manager template for restored disks: a managed disk imported from each
// uploaded fixed VHD, and a VM attaching them. What the operator decides is a parameter with a
// default: the VM size, the availability set, the network interface, the VHDs' blob URLs.
import type { VmShape } from './vm-shape.ts';

const GIB = 1024 ** 3;

/** `uri`: where the VHD was uploaded, when it was (the parameter's default then). */
export type ArmDisk = { fileName: string; capacity: number; uri?: string };

export function armTemplate(vm: VmShape, disks: ArmDisk[]): string {
  const key = vm.platformKey;
  const diskParameter = (index: number): string => (index === 0 ? 'osDiskVhdUri' : `dataDisk${index}VhdUri`);
  const diskName = (index: number): string =>
    index === 0 ? "[concat(parameters('vmName'), '-osdisk')]" : `[concat(parameters('vmName'), '-datadisk${index}')]`;
  const diskId = (index: number): string => `[resourceId('Microsoft.Compute/disks', ${diskName(index).slice(1, -1)})]`;
  const parameters: Record<string, unknown> = {
    vmName: { type: 'string', defaultValue: vm.name },
    vmSize: {
      type: 'string',
      defaultValue: vm.cpus <= 2 && vm.memoryMib <= 8192 ? 'Standard_D2s_v3' : 'Standard_D4s_v3',
      metadata: { description: `Backed-up VM: ${vm.cpus} vCPU, ${vm.memoryMib} MiB` },
    },
    location: { type: 'string', defaultValue: '[resourceGroup().location]' },
    availabilitySetId: { type: 'string', defaultValue: '', metadata: { description: 'Resource id of an availability set, or empty' } },
    networkInterfaceId: { type: 'string', metadata: { description: 'Resource id of the network interface the VM gets' } },
    storageAccountId: { type: 'string', metadata: { description: 'Resource id of the storage account holding the VHDs' } },
    ...Object.fromEntries(
      disks.map((disk, index) => [
        diskParameter(index),
        {
          type: 'string',
          ...(disk.uri ? { defaultValue: disk.uri } : {}),
          metadata: { description: `Blob URL of ${disk.fileName} once uploaded (a page blob)` },
        },
      ]),
    ),
    ...(key
      ? {
          diskEncryptionSetId: {
            type: 'string',
            metadata: {
              description: `Resource id of the disk encryption set holding key ${key.keyId} of provider ${key.providerId}, which the backed-up VM was encrypted with`,
            },
          },
        }
      : {}),
  };
  // A VM the platform encrypted keeps its key: its disks name the encryption set holding it.
  const encryption = key
    ? { encryption: { type: 'EncryptionAtRestWithCustomerKey', diskEncryptionSetId: "[parameters('diskEncryptionSetId')]" } }
    : {};
  const template = {
    $schema: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#',
    contentVersion: '1.0.0.0',
    metadata: {
      generator: 'Lifeboat restore disks',
      vm: vm.name,
      guestOs: vm.guestOs,
      ...(key ? { platformKey: { providerId: key.providerId, keyId: key.keyId } } : {}),
    },
    parameters,
    resources: [
      ...disks.map((disk, index) => ({
        type: 'Microsoft.Compute/disks',
        apiVersion: '2023-04-02',
        name: diskName(index),
        location: "[parameters('location')]",
        sku: { name: 'Premium_LRS' },
        properties: {
          ...(index === 0 ? { osType: vm.windows ? 'Windows' : 'Linux' } : {}),
          creationData: {
            createOption: 'Import',
            sourceUri: `[parameters('${diskParameter(index)}')]`,
            storageAccountId: "[parameters('storageAccountId')]",
          },
          diskSizeGB: Math.max(1, Math.ceil(disk.capacity / GIB)),
          ...encryption,
        },
      })),
      {
        type: 'Microsoft.Compute/virtualMachines',
        apiVersion: '2023-03-01',
        name: "[parameters('vmName')]",
        location: "[parameters('location')]",
        dependsOn: disks.map((_, index) => diskId(index)),
        properties: {
          hardwareProfile: { vmSize: "[parameters('vmSize')]" },
          availabilitySet:
            "[if(empty(parameters('availabilitySetId')), json('null'), createObject('id', parameters('availabilitySetId')))]",
          storageProfile: {
            osDisk: { osType: vm.windows ? 'Windows' : 'Linux', createOption: 'Attach', managedDisk: { id: diskId(0) } },
            dataDisks: disks.slice(1).map((_, index) => ({ lun: index, createOption: 'Attach', managedDisk: { id: diskId(index + 1) } })),
          },
          networkProfile: { networkInterfaces: [{ id: "[parameters('networkInterfaceId')]" }] },
        },
      },
    ],
  };
  return `${JSON.stringify(template, null, 2)}\n`;
}
