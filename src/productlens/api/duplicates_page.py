"""What the header's "Duplicates" link shows when the duplicate thresholds cannot be used yet:
a page that says why and what to do, with a button that fits them (needs the API key the main
page saved), rather than the JSON error of GET /duplicates."""

from __future__ import annotations

import html

STYLE = """body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:44em;line-height:1.45}
code{background:#f2f2f2;padding:.1em .3em;border-radius:3px}button{font-size:1em;padding:.45em 1em}
.status{margin-top:.8em}.bad{color:#a40000}"""

# Reads the key the main page stored (same origin), POSTs the fit, then reloads the review.
SCRIPT = """
const button = document.getElementById('fit'), status = document.getElementById('fit-status');
button.addEventListener('click', async () => {
  const key = localStorage.getItem('productlens-api-key') || '';
  button.disabled = true;
  status.className = 'status';
  status.textContent = 'Fitting the thresholds on synthetic copies of the catalogue\\u2019s photos\\u2026';
  const response = await fetch('/duplicates/calibrate', {method: 'POST', headers: key ? {'X-API-Key': key} : {}});
  if (response.ok) { location.reload(); return; }
  const body = await response.json().catch(() => null);
  status.className = 'status bad';
  status.textContent = (body && body.error ? body.error.message : 'HTTP ' + response.status) +
    (response.status === 401 || response.status === 403 ? ' \\u2014 save the API key with Edit on the main page first.' : '');
  button.disabled = false;
});
"""


def not_fitted_page(reason: str) -> str:
    """The page shown instead of the review while the thresholds are missing or stale: `reason` says which."""
    return (f"<!doctype html><meta charset='utf-8'><meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>productlens duplicates</title><style>{STYLE}</style>"
            "<h1>Duplicates: thresholds needed first</h1>"
            f"<p id='reason'>{html.escape(reason)}.</p>"
            "<p>Finding duplicates needs two similarity thresholds fitted to the active model. Fitting them takes "
            "a few seconds to a minute: it makes synthetic copies of the catalogue's photos and picks the "
            "thresholds that tell copies from other products.</p>"
            "<p><button type='button' id='fit'>Fit the thresholds now</button></p>"
            "<p id='fit-status' class='status' role='status'></p>"
            "<p>Or from a terminal: <code>productlens duplicates --calibrate</code>, then reload this page.</p>"
            f"<p><a href='/'>Back to the catalogue</a></p><script>{SCRIPT}</script>")
