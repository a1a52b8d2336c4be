// The inventory's mark on a VM whose latest point sits only in offline places (ejected or vaulted
// tapes, unreachable copy repositories): a restore of it waits until an operator brings one back.
import { useRef } from 'react';
import { Label, Tooltip } from '@patternfly/react-core';
import { OutlinedClockIcon } from '@patternfly/react-icons';
import type { VmSummary } from '../../../shared/domain.ts';

export function OfflineMark({ vm }: { vm: VmSummary }) {
  const trigger = useRef<HTMLSpanElement>(null);
  if (!vm.onlyOffline) return null;
  const where = `Only on ${vm.offlinePlaces.join('; ')}: bring it back before a restore, or the restore asks for it.`;
  return (
    <>
      {/* Focusable, so a keyboard user gets the tooltip too; a screen reader reads the places in the label. */}
      <span ref={trigger} tabIndex={0}>
        <Label color="orange" isCompact icon={<OutlinedClockIcon />}>
          only copy offline<span className="pf-v6-screen-reader">: {where}</span>
        </Label>
      </span>
      <Tooltip content={where} triggerRef={trigger} aria="none" />
    </>
  );
}
