// Restore wizard: VM, restore point (storage snapshots holding the VM first, the fastest tier,
// then the backup's points with their copies), location and target (a new VM, the disks with a
// template, Azure Storage, or the VM in place), then review: which copy to read and, for an
// encrypted point, its password or recovery key.
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { formatBytes } from '../../shared/format.ts';
import { useQueryClient } from '@tanstack/react-query';
import { useApi, useKeys, usePoints, useStorageSnapshots, useVms } from '../api/queries.ts';
import { useConsole } from '../store.ts';
import { formatTime } from './time.ts';
import { describeTarget, emptyTarget, targetComplete, targetRequest, TargetStep, type TargetChoice } from './TargetStep.tsx';
import { HealthBadge } from './HealthBadge.tsx';
import { TierBadges } from './TierBadges.tsx';
import { SourceFields, sourceRequest, sourceReady, type SourceChoice } from './SourceFields.tsx';

const stepTitles = ['Virtual machine', 'Restore point', 'Target', 'Review'] as const;

export function RestoreWizard() {
  const api = useApi();
  const queries = useQueryClient();
  const initialVm = useConsole((state) => state.wizard?.answers.vms[0]?.vm ?? null);
  const show = useConsole((state) => state.show);
  const openJob = useConsole((state) => state.openJob);
  const vms = useVms();
  const [step, setStep] = useState(initialVm ? 1 : 0);
  const [vmId, setVmId] = useState<string | null>(initialVm);
  const [pointId, setPointId] = useState<string | null>(null);
  /** A storage snapshot chosen instead of a backup point. */
  const [snapshotId, setSnapshotId] = useState<string | null>(null);
  const [target, setTarget] = useState<TargetChoice>(emptyTarget);
  const [newName, setNewName] = useState('');
  const [source, setSource] = useState<SourceChoice>({ fromRegion: '', password: '', recoveryKey: '' });
  const keys = useKeys();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const points = usePoints(vmId);
  const vm = vms.data?.find((candidate) => candidate.id === vmId);
  const point = points.data?.find((candidate) => candidate.id === pointId) ?? points.data?.[0];
  const snapshots = useStorageSnapshots();
  const snapshotTier = (snapshots.data ?? []).filter(
    (snapshot) => vm && snapshot.vms.some((found) => found.name.toLowerCase() === vm.name.toLowerCase()),
  );
  const snapshot = snapshotTier.find((candidate) => candidate.id === snapshotId);
  // A restore from a snapshot's clone makes a new VM: not an original-location rollback, not disks.
  const targetFits = !snapshot || (!target.original && (target.kind === 'local' || target.kind === 'vsphere'));
  const makesVm = !target.original && (target.kind === 'local' || target.kind === 'vsphere');
  const keyRemembered = keys.data?.some((key) => key.keyId === point?.keyId && key.stored) ?? false;
  const needsKey = !snapshot && point?.keyId !== null && point?.keyId !== undefined && !keyRemembered;

  const canNext = [
    vmId !== null,
    point !== undefined || snapshot !== undefined,
    targetComplete(target) && targetFits,
    !needsKey || sourceReady(source),
  ][step];

  const start = async (): Promise<void> => {
    if (!vmId || (!point && !snapshot)) return;
    setBusy(true);
    setError(null);
    try {
      const renamed = newName.trim() && makesVm ? { newName: newName.trim() } : {};
      const from = sourceRequest(source);
      let started: { job: { id: string } } | null = null;
      if (snapshot && vm)
        started = await api.invoke('restore.fromSnapshot', {
          vms: [vm.name],
          snapshot: snapshot.id,
          target: targetRequest(target),
          ...renamed,
        });
      else if (point && target.kind === 'disks')
        started = await api.invoke('restore.disks', {
          vm: vmId,
          point: point.id,
          target: { kind: 'local', path: target.path.trim() },
          template: target.template,
          ...from,
        });
      else if (point && target.kind === 'azure')
        started = await api.invoke('restore.azure', {
          vm: vmId,
          point: point.id,
          account: target.account,
          container: target.container,
          ...from,
        });
      else if (point)
        started = await api.invoke('restore.entireVm', { vm: vmId, point: point.id, target: targetRequest(target), ...renamed, ...from });
      await queries.invalidateQueries({ queryKey: ['jobs'] });
      if (started) openJob(started.job.id);
    } catch (failure) {
      setError((failure as Error).message);
    } finally {
      setBusy(false);
    }
  };

  // A new step takes the focus to its first field: Next may be disabled until a choice is made,
  // and a disabled button drops the focus to the page, where a keyboard user loses the wizard.
  const form = useRef<HTMLFormElement>(null);
  const shownStep = useRef(step);
  useEffect(() => {
    if (shownStep.current === step) return;
    shownStep.current = step;
    const first = form.current?.querySelector<HTMLElement>(
      '.wizard-step input:not([disabled]), .wizard-step select, .wizard-step textarea',
    );
    (first ?? form.current?.querySelector<HTMLElement>('.wizard-step'))?.focus();
  }, [step]);

  const submit = (event: FormEvent): void => {
    event.preventDefault();
    if (step < 3 && canNext) setStep(step + 1);
    else if (step === 3 && canNext) void start();
  };

  return (
    <form className="wizard" onSubmit={submit} aria-labelledby="wizard-heading" ref={form}>
      <h2 id="wizard-heading">Restore</h2>
      <ol className="wizard-steps">
        {stepTitles.map((title, index) => (
          <li
            key={title}
            aria-current={index === step ? 'step' : undefined}
            className={index === step ? 'current' : index < step ? 'done' : ''}
          >
            {title}
          </li>
        ))}
      </ol>
      <div className="wizard-step" role="group" tabIndex={-1} aria-label={stepTitles[step]}>
        {step === 0 && (
          <fieldset>
            <legend>Which VM?</legend>
            {vms.data?.map((candidate) => (
              <label key={candidate.id} className="choice">
                <input
                  type="radio"
                  name="vm"
                  value={candidate.id}
                  checked={vmId === candidate.id}
                  onChange={() => {
                    setVmId(candidate.id);
                    setPointId(null);
                    setSnapshotId(null);
                  }}
                />
                {candidate.name}{' '}
                <span className="muted">
                  ({candidate.pointCount} points, {formatBytes(candidate.provisionedBytes)})
                </span>
              </label>
            ))}
          </fieldset>
        )}
        {step === 1 && (
          <fieldset>
            <legend>Restore point of {vm?.name}</legend>
            {snapshotTier.map((candidate) => (
              <label key={candidate.id} className="choice">
                <input
                  type="radio"
                  name="point"
                  value={candidate.id}
                  checked={snapshotId === candidate.id}
                  onChange={() => setSnapshotId(candidate.id)}
                />
                Storage snapshot {candidate.id} ({candidate.array}/{candidate.volume}) · {formatTime(candidate.createdAt)}{' '}
                <span className="muted">snapshot tier, fastest: restored from a clone</span>
              </label>
            ))}
            {points.data?.map((candidate) => (
              <label key={candidate.id} className="choice">
                <input
                  type="radio"
                  name="point"
                  value={candidate.id}
                  checked={!snapshot && point?.id === candidate.id}
                  onChange={() => {
                    setPointId(candidate.id);
                    setSnapshotId(null);
                  }}
                />
                #{candidate.sequence} {candidate.kind} · {formatTime(candidate.createdAt)} <span className="muted">backup</span>
                <TierBadges copies={candidate.copies} keyId={candidate.keyId} />
                <HealthBadge health={candidate.health} />
              </label>
            ))}
          </fieldset>
        )}
        {step === 2 && (
          <>
            <TargetStep target={target} onChange={setTarget} vm={vmId ?? ''} vmName={vm?.name ?? ''} point={point?.id ?? ''} />
            {!targetFits && (
              <p role="alert" className="error">
                A restore from a storage snapshot makes a new VM in a folder or on a vSphere host; the disks alone, Azure and an
                original-location rollback come from a backup point.
              </p>
            )}
            {makesVm && (
              <label>
                New VM name (optional; keeps the original name if empty)
                <input name="newName" value={newName} onChange={(event) => setNewName(event.target.value)} placeholder={vm?.name} />
              </label>
            )}
          </>
        )}
        {step === 3 && (
          <dl className="review">
            <dt>VM</dt>
            <dd>{vm?.name}</dd>
            <dt>Restore point</dt>
            <dd>
              {snapshot
                ? `storage snapshot ${snapshot.id} (${formatTime(snapshot.createdAt)}), through a clone`
                : `#${point?.sequence} (${point ? formatTime(point.createdAt) : ''})`}
            </dd>
            <dt>Target</dt>
            <dd>{describeTarget(target)}</dd>
            {makesVm && (
              <>
                <dt>Name</dt>
                <dd>{newName.trim() || vm?.name}</dd>
              </>
            )}
          </dl>
        )}
        {step === 3 && !snapshot && point && (
          <SourceFields
            source={source}
            onChange={setSource}
            regions={[...new Set(point.copies.flatMap((copy) => (copy.kind === 'repository' && copy.region ? [copy.region] : [])))]}
            encrypted={point.keyId !== null}
            remembered={keyRemembered}
          />
        )}
      </div>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <div className="actions">
        <button type="button" onClick={() => (step === 0 ? show('inventory') : setStep(step - 1))}>
          {step === 0 ? 'Cancel' : 'Back'}
        </button>
        <button type="submit" disabled={!canNext || busy}>
          {step === 3 ? 'Start restore' : 'Next'}
        </button>
      </div>
    </form>
  );
}
