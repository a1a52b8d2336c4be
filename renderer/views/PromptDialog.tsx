// What the engine waits for an operator to do, shown over every view: which tape, where to put
// it, since when, for which jobs. The operator inserts it (for the virtual library: imports it
// through the mail slot) and answers; a wrong barcode is refused with the one needed.
// Not a modal: while the engine waits, the operator often needs the Tape view behind it.
import { useState, type FormEvent } from 'react';
import {
  Button,
  Card,
  CardBody,
  CardHeader,
  CardTitle,
  DescriptionList,
  DescriptionListDescription,
  DescriptionListGroup,
  DescriptionListTerm,
  Flex,
  Form,
  FormGroup,
  Label,
  Stack,
  TextInput,
} from '@patternfly/react-core';
import type { Prompt } from '../../shared/domain.ts';
import { useApi, useOpenPrompts } from '../api/queries.ts';
import { useConsole } from '../store.ts';
import { formatTime } from './time.ts';
import { InlineError } from './common/InlineError.tsx';

function PromptCard({ prompt, position }: { prompt: Prompt; position: { index: number; of: number } }) {
  const api = useApi();
  const openJob = useConsole((state) => state.openJob);
  const [barcode, setBarcode] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const run = (work: Promise<unknown>): void => {
    setBusy(true);
    work
      .then(
        () => setError(null),
        (failure: Error) => setError(failure.message),
      )
      .finally(() => setBusy(false));
  };
  const answer = (event: FormEvent): void => {
    event.preventDefault();
    run(api.invoke('prompts.answer', { promptId: prompt.id, ...(barcode.trim() ? { barcode: barcode.trim() } : {}) }));
  };
  const headingId = `prompt-${prompt.id}`;
  return (
    <Card role="alertdialog" aria-labelledby={headingId} data-prompt-id={prompt.id} isCompact>
      <CardHeader>
        <Flex spaceItems={{ default: 'spaceItemsSm' }} alignItems={{ default: 'alignItemsCenter' }}>
          <Label color="orange">Needs you</Label>
          <CardTitle component="h2" id={headingId}>
            Insert tape {prompt.barcode}
            {position.of > 1 && (
              <span className="pf-v6-u-text-color-subtle">
                {' '}
                ({position.index + 1} of {position.of})
              </span>
            )}
          </CardTitle>
        </Flex>
      </CardHeader>
      <CardBody>
        <Stack hasGutter>
          <p>{prompt.message}.</p>
          <DescriptionList isHorizontal isCompact>
            <DescriptionListGroup>
              <DescriptionListTerm>Put it in</DescriptionListTerm>
              <DescriptionListDescription>{prompt.place}</DescriptionListDescription>
            </DescriptionListGroup>
            <DescriptionListGroup>
              <DescriptionListTerm>Waiting since</DescriptionListTerm>
              <DescriptionListDescription>{formatTime(prompt.createdAt)}</DescriptionListDescription>
            </DescriptionListGroup>
            <DescriptionListGroup>
              <DescriptionListTerm>Jobs</DescriptionListTerm>
              <DescriptionListDescription>
                <Flex spaceItems={{ default: 'spaceItemsSm' }}>
                  {prompt.jobIds.map((id) => (
                    <Button key={id} variant="link" isInline onClick={() => openJob(id)}>
                      {id}
                    </Button>
                  ))}
                </Flex>
              </DescriptionListDescription>
            </DescriptionListGroup>
          </DescriptionList>
          <p className="pf-v6-u-text-color-subtle">The jobs go on by themselves when the library sees the tape.</p>
          <Form onSubmit={answer}>
            <Flex alignItems={{ default: 'alignItemsFlexEnd' }} spaceItems={{ default: 'spaceItemsMd' }}>
              <FormGroup label="Barcode you inserted (optional)" fieldId={`${headingId}-barcode`}>
                <TextInput id={`${headingId}-barcode`} value={barcode} onChange={(_event, value) => setBarcode(value.toUpperCase())} />
              </FormGroup>
              <Button type="submit" variant="primary" isDisabled={busy}>
                I have inserted it
              </Button>
              {prompt.barcode && (
                <Button
                  variant="secondary"
                  isDisabled={busy}
                  onClick={() => run(api.invoke('tape.import', { barcode: prompt.barcode as string }))}
                >
                  Import {prompt.barcode} through the mail slot
                </Button>
              )}
            </Flex>
          </Form>
          <InlineError error={error} />
        </Stack>
      </CardBody>
    </Card>
  );
}

export function PromptDialog() {
  const prompts = useOpenPrompts();
  if (!prompts.data || prompts.data.length === 0) return null;
  // The engine lists the newest first; a request asks for its tapes in pull-list order, shown so.
  const inOrder = [...prompts.data].reverse();
  return (
    <Stack hasGutter aria-live="assertive" className="pf-v6-u-m-md">
      {inOrder.map((prompt, index) => (
        <PromptCard key={prompt.id} prompt={prompt} position={{ index, of: inOrder.length }} />
      ))}
    </Stack>
  );
}
