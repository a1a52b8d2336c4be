// What keeps the wizard on its step: the engine's check problems (each naming its VM and field),
// the VMs whose restore could not start, or a refused request.
import { Alert, List, ListItem } from '@patternfly/react-core';
import type { RestoreProblem } from '../../../shared/domain.ts';
import { wizardSteps } from './steps.ts';
import { InlineError } from '../common/InlineError.tsx';

export type StartFailure = { vm: string; message: string };

/** "vms.0.newName" → "new name"; "target.path" → "target path": the field in the operator's words. */
export function fieldWords(field: string): string {
  return field
    .replace(/^vms\.\d+\.?/, '')
    .split('.')
    .map((part) => part.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase())
    .join(' ')
    .trim();
}

function problemText(problem: RestoreProblem, vmNameOf: (vm: string) => string): string {
  const step = wizardSteps.find((info) => info.check === problem.step)?.title ?? problem.step;
  const field = fieldWords(problem.field);
  const where = [problem.vm ? vmNameOf(problem.vm) : null, field || null].filter(Boolean).join(', ');
  return `${step}${where ? ` (${where})` : ''}: ${problem.message}`;
}

export function ProblemList({
  problems,
  failures,
  error,
  vmNameOf,
}: {
  problems: RestoreProblem[];
  failures: StartFailure[];
  error: string | null;
  vmNameOf(vm: string): string;
}) {
  return (
    <>
      <InlineError error={error} />
      {problems.length > 0 && (
        <Alert variant="danger" isInline role="alert" title={`The checks found ${problems.length} problem(s); fix them to go on`}>
          <List>
            {problems.map((problem, index) => (
              <ListItem key={index}>{problemText(problem, vmNameOf)}</ListItem>
            ))}
          </List>
        </Alert>
      )}
      {failures.length > 0 && (
        <Alert variant="danger" isInline role="alert" title={`${failures.length} VM(s) could not start`}>
          <List>
            {failures.map((failure) => (
              <ListItem key={failure.vm}>
                {failure.vm}: {failure.message}
              </ListItem>
            ))}
          </List>
        </Alert>
      )}
    </>
  );
}
