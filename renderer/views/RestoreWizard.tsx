// Entire VM restore wizard: VM, restore point, target folder and name, review, start.
import { useState, type FormEvent } from 'react';
import { formatBytes } from '../../shared/format.ts';
import { useQueryClient } from '@tanstack/react-query';
import { useApi, usePoints, useVms } from '../api/queries.ts';
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
  const [target, setTarget] = useState<TargetChoice>(emptyTarget);
  const [newName, setNewName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const points = usePoints(vmId);
  const vm = vms.data?.find((candidate) => candidate.id === vmId);
  const point = points.data?.find((candidate) => candidate.id === pointId) ?? points.data?.[0];

  const canNext = [vmId !== null, point !== undefined, targetComplete(target), true][step];

  const start = async (): Promise<void> => {
    if (!vmId || !point) return;
    setBusy(true);
    setError(null);
    try {
      const request = { vm: vmId, point: point.id, target: targetRequest(target), ...(newName.trim() && !target.original ? { newName: newName.trim() } : {}) };
      await api.invoke('restore.entireVm', request);
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
              <input type="radio" name="vm" value={candidate.id} checked={vmId === candidate.id} onChange={() => { setVmId(candidate.id); setPointId(null); }} />
              {candidate.name} <span className="muted">({candidate.pointCount} points, {formatBytes(candidate.provisionedBytes)})</span>
            </label>
          ))}
        </fieldset>
      )}
      {step === 1 && (
        <fieldset>
          <legend>Restore point of {vm?.name}</legend>
          {points.data?.map((candidate) => (
            <label key={candidate.id} className="choice">
              <input type="radio" name="point" value={candidate.id} checked={point?.id === candidate.id} onChange={() => setPointId(candidate.id)} />
              #{candidate.sequence} {candidate.kind} · {formatTime(candidate.createdAt)}
            </label>
          ))}
        </fieldset>
      )}
      {step === 2 && (
        <>
          <TargetStep target={target} onChange={setTarget} vm={vmId ?? ''} point={point?.id ?? ''} />
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
          <dt>Restore point</dt><dd>#{point?.sequence} ({point ? formatTime(point.createdAt) : ''})</dd>
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
