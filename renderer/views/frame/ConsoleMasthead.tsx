// The masthead: the product's name (the page's one h1), the sidebar's toggle on narrow
// windows, who is signed in, and the theme switch.
import {
  Flex,
  FlexItem,
  Masthead,
  MastheadBrand,
  MastheadContent,
  MastheadMain,
  MastheadToggle,
  PageToggleButton,
  Switch,
  Title,
} from '@patternfly/react-core';
import BarsIcon from '@patternfly/react-icons/dist/esm/icons/bars-icon.js';
import { useQuery } from '@tanstack/react-query';
import { useApi } from '../../api/queries.ts';
import { useTheme } from '../theme.ts';

/** "ann (administrator)", once the engine says who this console is signed in as (asked again
 * whenever the frame mounts: a sign-in with another account remounts it). */
function SignedInUser() {
  const api = useApi();
  const whoami = useQuery({ queryKey: ['whoami'], queryFn: () => api.invoke('auth.whoami', {}), staleTime: 0 });
  if (!whoami.data) return null;
  return (
    <span>
      <span className="pf-v6-u-screen-reader">Signed in as </span>
      {whoami.data.account} ({whoami.data.role})
    </span>
  );
}

export function ConsoleMasthead() {
  const [theme, setTheme] = useTheme();
  return (
    <Masthead>
      <MastheadMain>
        <MastheadToggle>
          <PageToggleButton variant="plain" aria-label="Show or hide the navigation">
            <BarsIcon />
          </PageToggleButton>
        </MastheadToggle>
        <MastheadBrand>
          <Title headingLevel="h1" size="xl">
            Lifeboat
          </Title>
        </MastheadBrand>
      </MastheadMain>
      <MastheadContent>
        <Flex className="pf-v6-u-ml-auto" alignItems={{ default: 'alignItemsCenter' }} spaceItems={{ default: 'spaceItemsLg' }}>
          <FlexItem>
            <SignedInUser />
          </FlexItem>
          <FlexItem>
            <Switch
              id="theme-switch"
              label="Dark theme"
              isChecked={theme === 'dark'}
              onChange={(_event, checked) => setTheme(checked ? 'dark' : 'light')}
            />
          </FlexItem>
        </Flex>
      </MastheadContent>
    </Masthead>
  );
}
