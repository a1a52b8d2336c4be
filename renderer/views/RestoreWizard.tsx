// Entire VM restore wizard: VM, restore point (storage snapshots holding the VM first, the
// fastest tier, then the backup's points), target folder and name, review, start.
import { useState, type FormEvent } from 'react';
import { formatBytes } from '../../shared/format.ts';
import { useQueryClient } from '@tanstack/react-query';
import { useApi, usePoints, useStorageSnapshots, useVms } from '../api/queries.ts';
import { useConsole } from '../store.ts';
import { formatTime } from './time.ts';
import { describeTarget, emptyTarget, targetComplete, targetRequest, TargetStep, type TargetChoice } from './TargetStep.tsx';

const stepTitles = ['Virtual machine', 'Restore point', 'Target', 'Review'] as const;

export function RestoreWizard() {
  const api = useApi();
  const queries = useQueryClient();
  const initialVm = useConsole((state) => state.wizardVm);
  const show = useConsole((state) => state.show);
  const vms = useVms();
  const [step, setStep] = useState(initialVm ? 1 : 0);
  const [vmId, setVmId] = useState<string | null>(initialVm);
  const [pointId, setPointId] = useState<string | null>(null);
  /** A storage snapshot chosen instead of a backup point. */
  const [snapshotId, setSnapshotId] = useState<string | null>(null);
  const [target, setTarget] = useState<TargetChoice>(emptyTarget);
  const [newName, setNewName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const points = usePoints(vmId);
  const vm = vms.data?.find((candidate) => candidate.id === vmId);
  const point = points.data?.find((candidate) => candidate.id === pointId) ?? points.data?.[0];
  const snapshots = useStorageSnapshots();
  const snapshotTier = (snapshots.data ?? []).filter((snapshot) => vm && snapshot.vms.some((found) => found.name.toLowerCase() === vm.name.toLowerCase()));
  const snapshot = snapshotTier.find((candidate) => candidate.id === snapshotId);
  // A restore from a snapshot's clone makes a new VM: not an original-location rollback.
  const targetFits = !snapshot || !target.original;

  const canNext = [vmId !== null, point !== undefined || snapshot !== undefined, targetComplete(target) && targetFits, true][step];

  const start = async (): Promise<void> => {
    if (!vmId || (!point && !snapshot)) return;
    setBusy(true);
    setError(null);
    try {
      const renamed = newName.trim() && !target.original ? { newName: newName.trim() } : {};
      const chosen = targetRequest(target);
      if (snapshot && vm) await api.invoke('restore.fromSnapshot', { vms: [vm.name], snapshot: snapshot.id, target: chosen, ...renamed });
      else if (point) await api.invoke('restore.entireVm', { vm: vmId, point: point.id, target: chosen, ...renamed });
      await queries.invalidateQueries({ queryKey: ['jobs'] });
      show('jobs');
    } catch (failure) {
      setError((failure as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const submit = (event: FormEvent): void => {
    event.preventDefault();
    if (step < 3 && canNext) setStep(step + 1);
    else if (step === 3) void start();
  };

  return (
    <form className="wizard" onSubmit={submit} aria-labelledby="wizard-heading">
      <h2 id="wizard-heading">Entire VM restore</h2>
      <ol className="wizard-steps">
        {stepTitles.map((title, index) => (
          <li key={title} aria-current={index === step ? 'step' : undefined} className={index === step ? 'current' : index < step ? 'done' : ''}>{title}</li>
        ))}
      </ol>
      {step === 0 && (
        <fieldset>
          <legend>Which VM?</legend>
          {vms.data?.map((candidate) => (
            <label key={candidate.id} className="choice">
              <input type="radio" name="vm" value={candidate.id} checked={vmId === candidate.id} onChange={() => { setVmId(candidate.id); setPointId(null); setSnapshotId(null); }} />
              {candidate.name} <span className="muted">({candidate.pointCount} points, {formatBytes(candidate.provisionedBytes)})</span>
            </label>
          ))}
        </fieldset>
      )}
      {step === 1 && (
        <fieldset>
          <legend>Restore point of {vm?.name}</legend>
          {snapshotTier.map((candidate) => (
            <label key={candidate.id} className="choice">
              <input type="radio" name="point" value={candidate.id} checked={snapshotId === candidate.id} onChange={() => setSnapshotId(candidate.id)} />
              Storage snapshot {candidate.id} ({candidate.array}/{candidate.volume}) · {formatTime(candidate.createdAt)} <span className="muted">snapshot tier, fastest: restored from a clone</span>
            </label>
          ))}
          {points.data?.map((candidate) => (
            <label key={candidate.id} className="choice">
              <input type="radio" name="point" value={candidate.id} checked={!snapshot && point?.id === candidate.id} onChange={() => { setPointId(candidate.id); setSnapshotId(null); }} />
              #{candidate.sequence} {candidate.kind} · {formatTime(candidate.createdAt)} <span className="muted">backup</span>
            </label>
          ))}
        </fieldset>
      )}
      {step === 2 && (
        <>
          <TargetStep target={target} onChange={setTarget} vm={vmId ?? ''} point={point?.id ?? ''} />
          {!targetFits && <p role="alert" className="error">A restore from a storage snapshot makes a new VM; an original-location rollback comes from a backup point.</p>}
          {!target.original && (
            <label>
              New VM name (optional; keeps the original name if empty)
              <input name="newName" value={newName} onChange={(event) => setNewName(event.target.value)} placeholder={vm?.name} />
            </label>
          )}
        </>
      )}
      {step === 3 && (
        <dl className="review">
          <dt>VM</dt><dd>{vm?.name}</dd>
          <dt>Restore point</dt><dd>{snapshot ? `storage snapshot ${snapshot.id} (${formatTime(snapshot.createdAt)}), through a clone` : `#${point?.sequence} (${point ? formatTime(point.createdAt) : ''})`}</dd>
          <dt>Target</dt><dd>{describeTarget(target)}</dd>
          <dt>Name</dt><dd>{target.original ? vm?.name : newName.trim() || vm?.name}</dd>
        </dl>
      )}
      {error && <p role="alert" className="error">{error}</p>}
      <div className="actions">
        <button type="button" onClick={() => (step === 0 ? show('inventory') : setStep(step - 1))}>{step === 0 ? 'Cancel' : 'Back'}</button>
        <button type="submit" disabled={!canNext || busy}>{step === 3 ? 'Start restore' : 'Next'}</button>
      </div>
    </form>
  );
}
