// The picked items restored into a folder on the engine's machine (a job), as files or one archive.
import { ActionGroup, Button, Form, FormGroup, FormSelect, FormSelectOption, TextInput } from '@patternfly/react-core';
import { useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useApi } from '../../api/queries.ts';
import { useConsole } from '../../store.ts';
import { InlineError } from '../common/InlineError.tsx';
import { AlternateLocation } from '../LocationNote.tsx';

export function RestoreToFolder({ vm, point, paths }: { vm: string; point: string; paths: string[] }) {
  const api = useApi();
  const queries = useQueryClient();
  const openJob = useConsole((state) => state.openJob);
  const [target, setTarget] = useState('');
  const [onClash, setOnClash] = useState<'keep-both' | 'overwrite' | 'skip'>('keep-both');
  const [archive, setArchive] = useState<'' | 'zip' | 'tar'>('');
  const [error, setError] = useState<string | null>(null);
  const restore = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setError(null);
    try {
      const { job } = await api.invoke('files.restore', {
        vm,
        point,
        paths,
        target: { kind: 'local', path: target.trim() },
        onClash,
        ...(archive ? { archive } : {}),
      });
      await queries.invalidateQueries({ queryKey: ['jobs'] });
      openJob(job.id);
    } catch (failure) {
      setError((failure as Error).message);
    }
  };
  return (
    <Form onSubmit={(event) => void restore(event)} aria-label="Restore the picked items">
      <AlternateLocation what="the items go to a folder on this machine" />
      <FormGroup label="Into folder" isRequired fieldId="files-target">
        <TextInput
          id="files-target"
          value={target}
          onChange={(_event, value) => setTarget(value)}
          placeholder="/home/operator/restored"
          isRequired
        />
      </FormGroup>
      <FormGroup label="If a name exists" fieldId="files-clash">
        <FormSelect id="files-clash" value={onClash} onChange={(_event, value) => setOnClash(value as typeof onClash)}>
          <FormSelectOption value="keep-both" label="Keep both" />
          <FormSelectOption value="overwrite" label="Overwrite" />
          <FormSelectOption value="skip" label="Skip" />
        </FormSelect>
      </FormGroup>
      <FormGroup label="As" fieldId="files-archive">
        <FormSelect id="files-archive" value={archive} onChange={(_event, value) => setArchive(value as typeof archive)}>
          <FormSelectOption value="" label="Files and folders" />
          <FormSelectOption value="zip" label="One .zip archive" />
          <FormSelectOption value="tar" label="One .tar archive" />
        </FormSelect>
      </FormGroup>
      <InlineError error={error} />
      <ActionGroup>
        <Button type="submit" isDisabled={!target.trim()}>
          Restore items
        </Button>
      </ActionGroup>
    </Form>
  );
}
