import { StrictMode, createElement as h, version as reactVersion } from 'react';
import { renderToString, version as reactDomVersion } from 'react-dom/server';
import { Shop, shopConfig } from './shop';

export { reactVersion, reactDomVersion };

/** The shop's markup for `search` (the page's query string), as a Node server renders it. */
export function render(search: string): string {
  return renderToString(h(StrictMode, null, h(Shop, { config: shopConfig(search) })));
}
