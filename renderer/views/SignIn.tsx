// Sign-in after the console has reached the engine: the browser console (`serve`) must sign in
// with an account; the app starts as its OS user and may sign in with an account (an approval
// needs one). The sign-in token is kept for this tab only, so a reload stays signed in.
import { useEffect, useState, type FormEvent, type ReactNode } from 'react';
import type { SignedIn } from '../../shared/accounts.ts';
import type { LifeboatApi } from '../../shared/contract.ts';

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
    <main className="sign-in">
      <form onSubmit={submit} aria-labelledby="sign-in-heading">
        <h1 id="sign-in-heading">Sign in to Lifeboat</h1>
        <label htmlFor="sign-in-user">User</label>
        <input id="sign-in-user" autoComplete="username" value={user} onChange={(event) => setUser(event.target.value)} required />
        <label htmlFor="sign-in-password">Password</label>
        <input
          id="sign-in-password"
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={(event) => setPassword(event.target.value)}
          required
        />
        <button type="submit" disabled={busy || !user.trim() || !password}>
          Sign in
        </button>
        {onCancel && (
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
        )}
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
      </form>
    </main>
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

  if (identity === 'checking') return <p role="status">Checking who you are…</p>;
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
      <div className="identity" role="status" aria-label="Signed in">
        Signed in as <strong>{identity.account}</strong> ({identity.role},{' '}
        {identity.via === 'os' ? 'the OS user running the engine' : identity.via === 'directory' ? 'directory account' : 'local account'})
        {identity.via === 'os' ? (
          <button type="button" onClick={() => setSigningIn(true)}>
            Sign in with an account
          </button>
        ) : (
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        )}
      </div>
      {children}
    </>
  );
}
