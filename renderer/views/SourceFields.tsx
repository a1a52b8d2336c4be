// Where a restore reads the point (the fastest whole copy, or a region: a cross-region restore or
// a drill) and, for an encrypted point, its password or recovery key file.
import { useState } from 'react';
import { FileUpload, FormGroup, FormSection, FormSelect, FormSelectOption, TextInput } from '@patternfly/react-core';

export type SourceChoice = { fromRegion: string; password: string; recoveryKey: string };

export function sourceReady(source: SourceChoice): boolean {
  return source.password !== '' || source.recoveryKey !== '';
}

export function sourceRequest(source: SourceChoice): { fromRegion?: string; password?: string; recoveryKey?: string } {
  return {
    ...(source.fromRegion ? { fromRegion: source.fromRegion } : {}),
    ...(source.password ? { password: source.password } : {}),
    ...(source.recoveryKey ? { recoveryKey: source.recoveryKey } : {}),
  };
}

export function SourceFields({
  source,
  onChange,
  regions,
  encrypted,
  remembered,
}: {
  source: SourceChoice;
  onChange(source: SourceChoice): void;
  regions: string[];
  encrypted: boolean;
  remembered: boolean;
}) {
  // The file's name is shown, never its content: the recovery key is a secret.
  const [keyFile, setKeyFile] = useState('');
  const readKeyFile = (file: File): void => {
    setKeyFile(file.name);
    void file.text().then((recoveryKey) => onChange({ ...source, recoveryKey }));
  };
  return (
    <FormSection title="Source" titleElement="h4">
      <FormGroup label="Read from" fieldId="from-region">
        <FormSelect id="from-region" value={source.fromRegion} onChange={(_event, fromRegion) => onChange({ ...source, fromRegion })}>
          <FormSelectOption value="" label="The fastest whole copy" />
          {regions.map((region) => (
            <FormSelectOption key={region} value={region} label={`Region ${region} only (a copy there; cross-region restore or drill)`} />
          ))}
        </FormSelect>
      </FormGroup>
      {encrypted && (
        <>
          <p>
            This point is encrypted.
            {remembered
              ? ' Its key is remembered: no password is needed.'
              : ' Give its password or its recovery key file; a wrong one is refused before anything is written.'}
          </p>
          {!remembered && (
            <>
              <FormGroup label="Encryption password" fieldId="source-password">
                <TextInput
                  id="source-password"
                  type="password"
                  name="password"
                  autoComplete="off"
                  value={source.password}
                  onChange={(_event, password) => onChange({ ...source, password })}
                />
              </FormGroup>
              <FormGroup label="Or its recovery key file" fieldId="source-recovery-key">
                <FileUpload
                  id="source-recovery-key"
                  name="recoveryKey"
                  filename={keyFile}
                  filenamePlaceholder="No file chosen"
                  browseButtonText="Choose file"
                  hideDefaultPreview
                  onFileInputChange={(_event, file) => readKeyFile(file)}
                  onClearClick={() => {
                    setKeyFile('');
                    onChange({ ...source, recoveryKey: '' });
                  }}
                />
              </FormGroup>
            </>
          )}
        </>
      )}
    </FormSection>
  );
}
