// Package interop holds the interoperability test of outhook's signatures: deliveries made by the real
// local server are verified by implementations outside this module — the npm `standardwebhooks` package
// for the default Standard Webhooks scheme (verify.mjs, pinned in package.json and package-lock.json,
// installed by `make interop-deps`), and a Python standard-library HMAC check for the configurable hex +
// timestamp.rawBody scheme (verify_hex.py). The package has no code of its own: see interop_test.go.
package interop
