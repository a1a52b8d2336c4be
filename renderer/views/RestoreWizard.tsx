// The restore wizard: several VMs at once (one job per VM), in the order: VMs and points,
// mode, target, datastore per disk, network mapping, name and identity, power on and reason, and
// a summary. Every Next asks the engine to run the checks of the steps so far (restore.check, the
// same functions the jobs run before they start); what they find keeps the operator on the step.
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useQueries, useQueryClient } from '@tanstack/react-query';
import { ActionGroup, Alert, Button, Form, List, ListItem, ProgressStep, ProgressStepper, Title } from '@patternfly/react-core';
import type { RestorePlanVm, RestoreProblem } from '../../shared/domain.ts';
import { useApi, useKeys, useVms } from '../api/queries.ts';
import { useConsole, type ConsoleState } from '../store.ts';
import { targetComplete, TargetStep, type TargetChoice } from './TargetStep.tsx';
import { SourceFields, sourceReady, type SourceChoice } from './SourceFields.tsx';
import { emptyAnswers, type WizardAnswers } from '../restore-answers.ts';
import { checkRequest, startOne } from './wizard/requests.ts';
import { skippedBecause, stepAfter, stepInfo, wizardSteps, type WizardStepId, placesOnVsphere } from './wizard/steps.ts';
import { VmsStep } from './wizard/VmsStep.tsx';
import { ModeStep } from './wizard/ModeStep.tsx';
import { DatastoresStep } from './wizard/DatastoresStep.tsx';
import { NetworkStep } from './wizard/NetworkStep.tsx';
import { IdentityStep } from './wizard/IdentityStep.tsx';
import { OptionsStep, reasonMissing } from './wizard/OptionsStep.tsx';
import { SummaryStep } from './wizard/SummaryStep.tsx';
import { ProblemList, type StartFailure } from './wizard/ProblemList.tsx';

const SUMMARY = wizardSteps.length - 1;
const emptySource: SourceChoice = { fromRegion: '', password: '', recoveryKey: '' };

/** Each opening of the wizard (the nav, an inventory row, Edit and retry) starts it afresh. */
export function RestoreWizard() {
  const opened = useConsole((state) => state.wizard);
  return <WizardForm key={opened?.opening ?? 0} opened={opened} />;
}

function WizardForm({ opened }: { opened: ConsoleState['wizard'] }) {
  const api = useApi();
  const queries = useQueryClient();
  const show = useConsole((state) => state.show);
  const openJob = useConsole((state) => state.openJob);
  const vms = useVms();
  const keys = useKeys();
  const [answers, setAnswers] = useState<WizardAnswers>(opened?.answers ?? emptyAnswers);
  const [step, setStep] = useState(opened?.atSummary ? SUMMARY : 0);
  const [source, setSource] = useState<SourceChoice>({ ...emptySource, fromRegion: opened?.answers.fromRegion ?? '' });
  const [plan, setPlan] = useState<RestorePlanVm[]>([]);
  const [problems, setProblems] = useState<RestoreProblem[]>([]);
  const [failures, setFailures] = useState<StartFailure[]>([]);
  const [startedJobs, setStartedJobs] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const update = (patch: Partial<WizardAnswers>): void => setAnswers((current) => ({ ...current, ...patch }));
  const setTarget = (target: TargetChoice): void => update({ target });
  const vmNameOf = (vm: string): string => vms.data?.find((candidate) => candidate.id === vm)?.name ?? vm;
  const vmNames = answers.vms.map((choice) => vmNameOf(choice.vm)).join(', ') || 'the VM';

  // Each picked VM's points: the summary's region choice and whether a password is needed.
  const pointLists = useQueries({
    queries: answers.vms.map((choice) => ({
      queryKey: ['points', choice.vm],
      queryFn: () => api.invoke('points.list', { vm: choice.vm }),
    })),
  });
  const backupPoints = answers.vms.flatMap((choice, index) => {
    if (choice.snapshot) return [];
    const points = pointLists[index]?.data ?? [];
    const point = points.find((candidate) => candidate.id === choice.point) ?? points[0];
    return point ? [point] : [];
  });
  const regions = [
    ...new Set(
      backupPoints.flatMap((point) => point.copies.flatMap((copy) => (copy.kind === 'repository' && copy.region ? [copy.region] : []))),
    ),
  ];
  const encrypted = backupPoints.some((point) => point.keyId !== null);
  const remembered = backupPoints.every(
    (point) => point.keyId === null || (keys.data?.some((key) => key.keyId === point.keyId && key.stored) ?? false),
  );
  const needsKey = encrypted && !remembered;

  // A storage snapshot's clone makes a new VM: a folder or a vSphere host, not the disks alone or Azure.
  const fromSnapshot = answers.vms.some((choice) => choice.snapshot !== null);
  const targetFits = !fromSnapshot || (!answers.target.original && (answers.target.kind === 'local' || answers.target.kind === 'vsphere'));
  const { id: stepId, title } = stepInfo(step);
  const ready: Record<WizardStepId, boolean> = {
    vms: answers.vms.length > 0,
    mode: !answers.target.original || (answers.target.host !== '' && answers.target.confirmOverwrite),
    target: targetComplete(answers.target) && targetFits,
    datastores: true,
    network: true,
    identity: true,
    options: !reasonMissing(answers),
    summary: !needsKey || sourceReady(source),
  };

  /** Runs the engine's checks of the steps up to this one; true when they found nothing. */
  const check = async (at: number): Promise<boolean> => {
    const info = stepInfo(at);
    const found = await api.invoke('restore.check', checkRequest({ ...answers, fromRegion: source.fromRegion }, info.check, source));
    if (found.vms.length) setPlan(found.vms);
    setProblems(found.problems);
    return found.problems.length === 0;
  };

  // Edit and retry opens at the summary: its plan comes from the same checks (once, at the opening).
  const openedAtSummary = opened?.atSummary ?? false;
  useEffect(() => {
    if (openedAtSummary) void check(SUMMARY).catch((failure: Error) => setError(failure.message));
  }, [openedAtSummary]);

  const start = async (): Promise<void> => {
    const started: string[] = [];
    const failed: StartFailure[] = [];
    // One job per VM; a VM that cannot start does not keep the others from starting.
    for (const choice of answers.vms) {
      try {
        const own = plan.find((vm) => vm.vm === choice.vm);
        started.push(await startOne(api, { ...answers, fromRegion: source.fromRegion }, choice, vmNameOf(choice.vm), source, own));
      } catch (failure) {
        failed.push({ vm: vmNameOf(choice.vm), message: (failure as Error).message });
      }
    }
    await queries.invalidateQueries({ queryKey: ['jobs'] });
    setStartedJobs(started);
    setFailures(failed);
    if (failed.length === 0 && started[0]) openJob(started[0]);
  };

  const next = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    setFailures([]);
    try {
      if (!(await check(step))) return;
      if (step === SUMMARY) await start();
      else setStep(stepAfter(step, 1, answers));
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
    if (ready[stepId] && !busy) void next();
  };
  const back = (): void => {
    setProblems([]);
    setError(null);
    if (step === 0) show('inventory');
    else setStep(stepAfter(step, -1, answers));
  };

  return (
    <Form className="wizard" onSubmit={submit} aria-labelledby="wizard-heading" ref={form}>
      <Title headingLevel="h2" id="wizard-heading">
        Restore
      </Title>
      <ProgressStepper aria-label="Restore steps">
        {wizardSteps.map((info, index) => {
          const skipped = skippedBecause(info.id, answers);
          const state = index === step ? 'current' : skipped ? 'skipped' : index < step ? 'done' : 'to do';
          return (
            <ProgressStep
              key={info.id}
              id={`wizard-progress-${info.id}`}
              titleId={`wizard-progress-${info.id}-title`}
              isCurrent={index === step}
              aria-current={index === step ? 'step' : undefined}
              variant={index === step ? 'info' : skipped ? 'default' : index < step ? 'success' : 'pending'}
              description={skipped ? `Skipped: ${skipped}` : undefined}
              aria-label={`${info.title}, ${state}`}
            >
              {info.title}
            </ProgressStep>
          );
        })}
      </ProgressStepper>
      <div className="wizard-step" role="group" tabIndex={-1} aria-label={title}>
        <Title headingLevel="h3">{title}</Title>
        {stepId === 'vms' && <VmsStep choices={answers.vms} onChange={(choices) => update({ vms: choices })} />}
        {stepId === 'mode' && <ModeStep target={answers.target} onChange={setTarget} vms={answers.vms} vmNames={vmNames} />}
        {stepId === 'target' && (
          <>
            <TargetStep target={answers.target} onChange={setTarget} />
            {!targetFits && (
              <Alert
                variant="danger"
                isInline
                role="alert"
                title="A restore from a storage snapshot makes a new VM in a folder or on a vSphere host; the disks alone, Azure and an original-location rollback come from a backup point."
              />
            )}
          </>
        )}
        {stepId === 'datastores' && (
          <DatastoresStep
            target={answers.target}
            plan={plan}
            diskDatastores={answers.diskDatastores}
            onChange={(diskDatastores) => update({ diskDatastores })}
          />
        )}
        {stepId === 'network' && (
          <NetworkStep
            target={answers.target}
            plan={plan}
            networkMap={answers.networkMap}
            onChange={(networkMap) => update({ networkMap })}
          />
        )}
        {stepId === 'identity' && (
          <IdentityStep answers={answers} vmNameOf={vmNameOf} onChange={update} vsphere={placesOnVsphere(answers)} />
        )}
        {stepId === 'options' && <OptionsStep answers={answers} onChange={update} vsphere={placesOnVsphere(answers)} />}
        {stepId === 'summary' && (
          <>
            <SummaryStep answers={answers} plan={plan} />
            <SourceFields source={source} onChange={setSource} regions={regions} encrypted={encrypted} remembered={remembered} />
          </>
        )}
      </div>
      <ProblemList problems={problems} failures={failures} error={error} vmNameOf={vmNameOf} />
      {failures.length > 0 && startedJobs.length > 0 && (
        <Alert variant="info" isInline title={`${startedJobs.length} restore job(s) started`}>
          <List>
            {startedJobs.map((jobId) => (
              <ListItem key={jobId}>
                <Button variant="link" isInline onClick={() => openJob(jobId)}>
                  Open job {jobId}
                </Button>
              </ListItem>
            ))}
          </List>
        </Alert>
      )}
      <ActionGroup>
        <Button type="submit" variant="primary" isDisabled={!ready[stepId] || busy} isLoading={busy}>
          {step === SUMMARY ? 'Start restore' : 'Next'}
        </Button>
        <Button type="button" variant="secondary" onClick={back}>
          {step === 0 ? 'Cancel' : 'Back'}
        </Button>
      </ActionGroup>
    </Form>
  );
}
