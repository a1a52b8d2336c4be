// Entry: connect to the engine over whichever transport this window has, sign in, then render.
// PatternFly's base (reset, tokens of both themes, fonts) and utility classes come first; each
// component brings its own CSS; app.css holds the few layout lines PatternFly has no class for.
import '@patternfly/react-core/dist/styles/base.css';
import '@patternfly/react-styles/css/utilities/_index.css';
import './app.css';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { createRoot } from 'react-dom/client';
import type { LifeboatApi } from '../shared/contract.ts';
import { ApiContext, useEngineEvents } from './api/queries.ts';
import { connectApi } from './api/bridge.ts';
import { App } from './App.tsx';
import { useConsole } from './store.ts';
import { forgetSignIn, resumeSignIn, SignInGate } from './views/SignIn.tsx';
import { applyInitialTheme } from './views/theme.ts';

applyInitialTheme();

const queries = new QueryClient({ defaultOptions: { queries: { staleTime: 10_000, retry: 1 } } });

function Connected({ api }: { api: LifeboatApi }) {
  useEngineEvents(api, queries);
  return <App />;
}

const root = createRoot(document.getElementById('root') as HTMLElement);
const signedOut = (message: string): void => {
  queries.clear();
  forgetSignIn();
  root.render(
    <p role="alert" className="fatal">
      {message.charAt(0).toUpperCase() + message.slice(1)}
    </p>,
  );
};
connectApi({
  onSignedOut: signedOut,
  onState: (state) => useConsole.getState().setConnection(state),
  // What the console shows may have changed while it was away: everything is fetched again.
  onReconnected: async (api) => {
    await resumeSignIn(api);
    await queries.invalidateQueries();
  },
}).then(
  (api) =>
    root.render(
      <ApiContext.Provider value={api}>
        <QueryClientProvider client={queries}>
          <SignInGate api={api} onSignedOut={() => queries.clear()}>
            <Connected api={api} />
          </SignInGate>
        </QueryClientProvider>
      </ApiContext.Provider>,
    ),
  (error: Error) =>
    root.render(
      <p role="alert" className="fatal">
        Cannot reach the Lifeboat engine: {error.message}
      </p>,
    ),
);
