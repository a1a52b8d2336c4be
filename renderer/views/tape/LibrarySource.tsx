// What the library is: the virtual one, or a real one with its changer and drives as they answered INQUIRY.
import { Content, DescriptionList, DescriptionListDescription, DescriptionListGroup, DescriptionListTerm } from '@patternfly/react-core';
import type { TapeInventory } from '../../../shared/domain.ts';

type Unit = { vendor: string; product: string; revision: string; serial: string | null };

const unit = (device: Unit): string =>
  `${device.vendor} ${device.product} ${device.revision}${device.serial ? ` · serial ${device.serial}` : ''}`;

function Entry({ term, children }: { term: string; children: React.ReactNode }) {
  return (
    <DescriptionListGroup>
      <DescriptionListTerm>{term}</DescriptionListTerm>
      <DescriptionListDescription>{children}</DescriptionListDescription>
    </DescriptionListGroup>
  );
}

export function LibrarySource({ source }: { source: TapeInventory['source'] }) {
  if (source.kind === 'virtual') return <Content component="p">Virtual library: cartridges are tape images in the home.</Content>;
  return (
    <DescriptionList className="library-source" isCompact isHorizontal>
      <Entry term="Library">
        {source.configured} · {source.kind === 'iscsi' ? 'iSCSI' : 'SCSI generic'} · <code>{source.address}</code>
      </Entry>
      {source.changer && (
        <Entry term="Changer">
          {unit(source.changer)} at {source.changer.address}
        </Entry>
      )}
      {source.drives.map((drive, index) => (
        <Entry key={drive.address} term={`Drive ${index + 1}`}>
          {unit(drive)} at {drive.address}, element {drive.element}
        </Entry>
      ))}
    </DescriptionList>
  );
}
