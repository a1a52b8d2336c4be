// Light or dark: PatternFly's dark tokens apply under the `pf-v6-theme-dark` class on <html>.
// The operator's choice is remembered in this browser; until they choose, the console follows
// the system's preference, also when it changes while the console is open.
import { useSyncExternalStore } from 'react';

export type Theme = 'light' | 'dark';

const THEME_KEY = 'lifeboat.theme';
const DARK_CLASS = 'pf-v6-theme-dark';
const listeners = new Set<() => void>();

function savedTheme(): Theme | null {
  const saved = localStorage.getItem(THEME_KEY);
  return saved === 'light' || saved === 'dark' ? saved : null;
}

const systemDark = (): MediaQueryList => window.matchMedia('(prefers-color-scheme: dark)');

function applyTheme(theme: Theme): void {
  document.documentElement.classList.toggle(DARK_CLASS, theme === 'dark');
  for (const listener of listeners) listener();
}

function shownTheme(): Theme {
  return document.documentElement.classList.contains(DARK_CLASS) ? 'dark' : 'light';
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Called before the first render, so that no page (sign-in included) flashes in the other theme. */
export function applyInitialTheme(): void {
  const followSystem = (): void => applyTheme(savedTheme() ?? (systemDark().matches ? 'dark' : 'light'));
  followSystem();
  systemDark().addEventListener('change', followSystem);
}

/** The theme shown and a way to change it, remembered for the next visit. */
export function useTheme(): [Theme, (theme: Theme) => void] {
  const theme = useSyncExternalStore(subscribe, shownTheme);
  const choose = (next: Theme): void => {
    localStorage.setItem(THEME_KEY, next);
    applyTheme(next);
  };
  return [theme, choose];
}
