// Package dashboard tests the web dashboard (shared/dashboard) in a real headless Chromium driven over the
// DevTools protocol (chromedp), against the local server with real receivers: the event list, an event's
// attempts, a resend that adds an attempt, a secret's reveal and rotation, the charts and the endpoints page.
// Screenshots of each page are saved in the test's temporary directory (or in OUTHOOK_DASHBOARD_SHOTS).
package dashboard
