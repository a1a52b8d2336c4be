// Light or dark: PatternFly's dark tokens apply under the `pf-v6-theme-dark` class on <html>.
// The operator's choice is remembered in this browser; until they choose, the system's preference holds.
import { useState } from 'react';

export type Theme = 'light' | 'dark';

const THEME_KEY = 'lifeboat.theme';
const DARK_CLASS = 'pf-v6-theme-dark';

function savedTheme(): Theme | null {
  const saved = localStorage.getItem(THEME_KEY);
  return saved === 'light' || saved === 'dark' ? saved : null;
}

function systemTheme(): Theme {
  return window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

function applyTheme(theme: Theme): void {
  document.documentElement.classList.toggle(DARK_CLASS, theme === 'dark');
}

/** Called before the first render, so that no page (sign-in included) flashes in the other theme. */
export function applyInitialTheme(): void {
  applyTheme(savedTheme() ?? systemTheme());
}

/** The theme shown and a way to change it, remembered for the next visit. */
export function useTheme(): [Theme, (theme: Theme) => void] {
  const [theme, setTheme] = useState<Theme>(() => (document.documentElement.classList.contains(DARK_CLASS) ? 'dark' : 'light'));
  const choose = (next: Theme): void => {
    localStorage.setItem(THEME_KEY, next);
    applyTheme(next);
    setTheme(next);
  };
  return [theme, choose];
}
