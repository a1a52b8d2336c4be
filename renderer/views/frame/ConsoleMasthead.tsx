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
import { useTheme } from '../theme.ts';

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
