// Every wizard says where a restore lands: these write to an alternate location and leave the
// source VM as it is; only Restore VM replaces a VM's disks in place (original location).
import { Content } from '@patternfly/react-core';

export function AlternateLocation({ what }: { what: string }) {
  return (
    <Content component="p" className="pf-v6-u-text-color-subtle">
      Alternate location: {what}; the VM itself is left as it is. To replace its disks in place (original location), use Restore VM.
    </Content>
  );
}
