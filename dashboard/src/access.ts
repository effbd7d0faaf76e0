/**
 * The admin token, when the server asks for one (any address but loopback): taken from the page's
 * `#token=` fragment (never sent to the server in the URL), kept for the tab's session, or asked
 * for after a 401. Every fetch of the page goes through `authorizedFetch`.
 */
const STORAGE_KEY = 'ampstate-dashboard-token';

function tokenFromFragment(): string | undefined {
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (match?.[1] === undefined) return undefined;
  const token = decodeURIComponent(match[1]);
  sessionStorage.setItem(STORAGE_KEY, token);
  // Out of the address bar, so it is not copied along with the link.
  history.replaceState(null, '', location.pathname + location.search);
  return token;
}

let token: string | undefined = tokenFromFragment() ?? sessionStorage.getItem(STORAGE_KEY) ?? undefined;

export async function authorizedFetch(url: string, init: RequestInit = {}): Promise<Response> {
  for (;;) {
    const headers = new Headers(init.headers);
    if (token !== undefined) headers.set('authorization', `Bearer ${token}`);
    const response = await fetch(url, { ...init, headers });
    if (response.status !== 401) return response;
    const entered = prompt('This dashboard needs the admin token (the master directory\'s admin-token file):');
    if (entered === null || entered.trim() === '') return response;
    token = entered.trim();
    sessionStorage.setItem(STORAGE_KEY, token);
  }
}
