// Sign-in after the console has reached the engine: the browser console (`serve`) must sign in
// with an account; the app starts as its OS user and may sign in with an account (an approval
// needs one). The sign-in token is kept for this tab only, so a reload stays signed in.
import { useEffect, useState, type FormEvent, type ReactNode } from 'react';
import type { SignedIn } from '../../shared/accounts.ts';
import type { LifeboatApi } from '../../shared/contract.ts';
import {
  ActionGroup,
  Button,
  Flex,
  Form,
  FormGroup,
  Login,
  LoginHeader,
  LoginMainBody,
  LoginMainHeader,
  Spinner,
  TextInput,
  Title,
} from '@patternfly/react-core';
import { InlineError } from './common/InlineError.tsx';

const SIGN_IN_KEY = 'lifeboat.sign-in';

/** On a new connection to the engine, the tab signs in again with the token it keeps. */
export async function resumeSignIn(api: LifeboatApi): Promise<void> {
  const saved = sessionStorage.getItem(SIGN_IN_KEY);
  if (saved) await api.invoke('auth.resume', { token: saved });
}

/** When the console is signed out by the engine (its session key ended), the tab forgets its sign-in too. */
export function forgetSignIn(): void {
  sessionStorage.removeItem(SIGN_IN_KEY);
}

function SignInForm({ api, onSignedIn, onCancel }: { api: LifeboatApi; onSignedIn: (identity: SignedIn) => void; onCancel?: () => void }) {
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = (event: FormEvent): void => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    api.invoke('auth.login', { user: user.trim(), password }).then(
      ({ token, identity }) => {
        sessionStorage.setItem(SIGN_IN_KEY, token);
        setPassword('');
        onSignedIn(identity);
      },
      (failure: Error) => {
        setError(failure.message);
        setBusy(false);
      },
    );
  };
  return (
    <Login
      header={
        <LoginHeader>
          <Title headingLevel="h1">Lifeboat</Title>
        </LoginHeader>
      }
    >
      <LoginMainHeader title="Sign in to Lifeboat" />
      <LoginMainBody>
        <Form onSubmit={submit} aria-label="Sign in">
          <FormGroup label="User" fieldId="sign-in-user" isRequired>
            <TextInput id="sign-in-user" autoComplete="username" value={user} onChange={(_event, value) => setUser(value)} isRequired />
          </FormGroup>
          <FormGroup label="Password" fieldId="sign-in-password" isRequired>
            <TextInput
              id="sign-in-password"
              type="password"
              autoComplete="current-password"
              value={password}
              onChange={(_event, value) => setPassword(value)}
              isRequired
            />
          </FormGroup>
          <InlineError error={error} />
          <ActionGroup>
            <Button type="submit" variant="primary" isBlock={!onCancel} isDisabled={busy || !user.trim() || !password} isLoading={busy}>
              Sign in
            </Button>
            {onCancel && (
              <Button variant="link" onClick={onCancel}>
                Cancel
              </Button>
            )}
          </ActionGroup>
        </Form>
      </LoginMainBody>
    </Login>
  );
}

/** Renders the console only for someone the engine knows, with who that is and a way out. */
export function SignInGate({ api, onSignedOut, children }: { api: LifeboatApi; onSignedOut: () => void; children: ReactNode }) {
  const [identity, setIdentity] = useState<SignedIn | null | 'checking'>('checking');
  const [signingIn, setSigningIn] = useState(false);

  useEffect(() => {
    const saved = sessionStorage.getItem(SIGN_IN_KEY);
    const resumed = saved ? api.invoke('auth.resume', { token: saved }) : api.invoke('auth.whoami', {});
    resumed.then(setIdentity, () => {
      sessionStorage.removeItem(SIGN_IN_KEY);
      api.invoke('auth.whoami', {}).then(setIdentity, () => setIdentity(null));
    });
  }, [api]);

  const signOut = (): void => {
    void api.invoke('auth.logout', {}).finally(() => {
      sessionStorage.removeItem(SIGN_IN_KEY);
      onSignedOut();
      api.invoke('auth.whoami', {}).then(setIdentity, () => setIdentity(null));
    });
  };

  if (identity === 'checking') return <Spinner size="lg" aria-label="Checking who you are…" />;
  if (identity === null || signingIn) {
    return (
      <SignInForm
        api={api}
        onSignedIn={(signedIn) => {
          setSigningIn(false);
          setIdentity(signedIn);
        }}
        {...(identity !== null ? { onCancel: () => setSigningIn(false) } : {})}
      />
    );
  }
  return (
    <>
      <Flex
        role="status"
        aria-label="Signed in"
        className="pf-v6-u-px-lg pf-v6-u-py-xs"
        justifyContent={{ default: 'justifyContentFlexEnd' }}
        spaceItems={{ default: 'spaceItemsSm' }}
        alignItems={{ default: 'alignItemsCenter' }}
      >
        <span>
          Signed in as <strong>{identity.account}</strong> ({identity.role},{' '}
          {identity.via === 'os' ? 'the OS user running the engine' : identity.via === 'directory' ? 'directory account' : 'local account'})
        </span>
        {identity.via === 'os' ? (
          <Button variant="link" isInline onClick={() => setSigningIn(true)}>
            Sign in with an account
          </Button>
        ) : (
          <Button variant="link" isInline onClick={signOut}>
            Sign out
          </Button>
        )}
      </Flex>
      {children}
    </>
  );
}
