// The page's idea of "now", read in one place so a browser test can fix it (Playwright's clock
// replaces Date for the page).
export function now() {
  return new Date();
}

// Today's date on the Moscow calendar (UTC+3, no daylight saving), as YYYY-MM-DD.
export function moscowToday(at = now()) {
  return new Date(at.getTime() + 3 * 3600 * 1000).toISOString().slice(0, 10);
}

// Whole days from `from` to `to`, both YYYY-MM-DD.
export function daysBetween(from, to) {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86400000);
}
