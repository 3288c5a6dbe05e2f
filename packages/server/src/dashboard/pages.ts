/**
 * Owns the dashboard's HTML: the page shell (its script draws everything from /v1/admin/report),
 * the sign-in page (also the body of a 401) and the page that says the dashboard is disabled.
 * No inline script or style anywhere: the Content-Security-Policy is `default-src 'self'`.
 */

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function layout(title: string, body: string, script = false): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="/dashboard/app.css">
${script ? '<script src="/dashboard/app.js" defer></script>\n' : ''}</head>
<body>
${body}
</body>
</html>
`;
}

/** The sign-in form; `error` (plain text) is announced to screen readers when present. */
export function signInPage(error?: string): string {
  const alert = error ? `<p class="error" role="alert" id="sign-in-error">${escapeHtml(error)}</p>\n` : '';
  const described = error ? ' aria-describedby="sign-in-error token-help"' : ' aria-describedby="token-help"';
  return layout(
    'Sign in · Vitrine dashboard',
    `<main class="sign-in">
<h1>Vitrine dashboard</h1>
<p>Sign in with the server's admin token (the value of <code>VITRINE_ADMIN_TOKEN</code>).</p>
${alert}<form method="post" action="/dashboard/sign-in" data-testid="sign-in">
<label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required maxlength="512" spellcheck="false"${described}>
<p class="hint" id="token-help"><code>npm start</code> prints the token it generated;
tools send it as <code>Authorization: Bearer</code>.</p>
<button type="submit">Sign in</button>
</form>
</main>`,
  );
}

/** What /dashboard answers when the server has no admin token configured. */
export function disabledPage(): string {
  return layout(
    'Dashboard disabled · Vitrine',
    `<main class="sign-in">
<h1>Vitrine dashboard</h1>
<p role="alert">The dashboard and the admin routes are disabled: this server has no admin token. Set <code>VITRINE_ADMIN_TOKEN</code>
(at least 16 characters, e.g. <code>openssl rand -base64 32</code>) and restart the server.</p>
</main>`,
  );
}

/** The dashboard's shell: the script fills <main> from the report; until then (or without script) it says why it is empty. */
export function dashboardPage(): string {
  return layout(
    'Vitrine dashboard',
    `<header class="top">
<h1>Vitrine dashboard</h1>
<form method="post" action="/dashboard/sign-out" class="sign-out">
<button type="submit" class="secondary">Sign out</button>
</form>
</header>
<main id="dashboard" aria-busy="true" aria-describedby="report-status">
<p id="report-status" role="status" data-testid="report-status">Loading the report…</p>
<noscript><p>The dashboard draws its charts with JavaScript; the same data is at <code>GET /v1/admin/report</code>.</p></noscript>
</main>`,
    true,
  );
}
