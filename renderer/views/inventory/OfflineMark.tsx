// The inventory's mark on a VM whose latest point sits only in offline places (ejected or vaulted
// tapes, unreachable copy repositories): a restore of it waits until an operator brings one back.
import { Label, Tooltip } from '@patternfly/react-core';
import { OutlinedClockIcon } from '@patternfly/react-icons';
import type { VmSummary } from '../../../shared/domain.ts';

export function OfflineMark({ vm }: { vm: VmSummary }) {
  if (!vm.onlyOffline) return null;
  const where = `Only on ${vm.offlinePlaces.join('; ')}: bring it back before a restore, or the restore asks for it.`;
  return (
    <Tooltip content={where}>
      {/* Focusable, so a keyboard user gets the tooltip; the places are in its name for a screen reader. */}
      <Label color="orange" isCompact icon={<OutlinedClockIcon />} tabIndex={0} aria-label={`only copy offline: ${where}`}>
        only copy offline
      </Label>
    </Tooltip>
  );
}
