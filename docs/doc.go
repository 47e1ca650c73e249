// Package docs has no API: it holds the tests that keep README.md, docs/*.md and docs/openapi.yaml telling the
// same story as each other, as the Makefile and as the code (routes, error codes, make targets, links, costs).
package docs
