package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func runCLI(t *testing.T, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	e := &env{stdin: bytes.NewReader(nil), stdout: &stdout, stderr: &stderr, getenv: func(k string) string { return vars[k] }}
	code := run(t.Context(), e, args)
	return code, stdout.String(), stderr.String()
}

func TestRun_ExitCodes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("sets:\n  - name: a\n    endpoints:\n      - name: e\n        url: ftp://x\n"), 0o600))

	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no command", nil, 2, "usage: outhook <command>"},
		{"unknown command", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"help", []string{"help"}, 0, ""},
		{"serve -h", []string{"serve", "-h"}, 0, "usage: outhook serve"},
		{"listen -h", []string{"listen", "-h"}, 0, "usage: outhook listen"},
		{"serve without --config", []string{"serve"}, 2, "--config is required"},
		{"serve with an unknown flag", []string{"serve", "--colour"}, 2, "flag provided but not defined"},
		{"serve with an argument", []string{"serve", "--config", bad, "extra"}, 2, `unexpected argument "extra"`},
		{"serve with a missing file", []string{"serve", "--config", filepath.Join(dir, "none.yaml")}, 1, "read config"},
		{"serve with an invalid config", []string{"serve", "--config", bad, "--data", dir}, 1, "sets[0].endpoints[0].url"},
		{"listen with a bad scheme", []string{"listen", "--scheme", "header=x,encoding=rot13"}, 2, "encoding"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, _, stderr := runCLI(t, nil, tc.args...)
			require.Equal(t, tc.code, code, "stderr: %s", stderr)
			require.Contains(t, stderr, tc.stderr)
		})
	}
}

func TestRun_ServeNeedsTheNamedSecrets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "webhooks.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(`
sets:
  - name: a
    endpoints:
      - name: e
        url: https://example.com/hooks
        signing: {secret: SOME_SIGNING_SECRET}
`), 0o600))
	code, _, stderr := runCLI(t, nil, "serve", "--config", cfg, "--data", dir)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "set the environment variable SOME_SIGNING_SECRET")
}

// TestRun_ServeRefusesAMalformedNamedSecret: a whsec_ value that is not base64 key bytes stops the server at
// start, with a message naming the secret and never its value (not t.Parallel: it sets the environment).
func TestRun_ServeRefusesAMalformedNamedSecret(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "webhooks.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(`
sets:
  - name: a
    endpoints:
      - name: e
        url: https://example.com/hooks
        signing: {secret: MALFORMED_SIGNING_SECRET}
`), 0o600))
	const value = "whsec_not*base64!value"
	t.Setenv("MALFORMED_SIGNING_SECRET", value)
	code, stdout, stderr := runCLI(t, nil, "serve", "--config", cfg, "--data", dir)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "the signing secret MALFORMED_SIGNING_SECRET (environment variable MALFORMED_SIGNING_SECRET) is not a usable key")
	require.Contains(t, stderr, "whsec_ secret must be followed by standard base64 key bytes")
	require.NotContains(t, stderr+stdout, "not*base64")
	require.NoFileExists(t, filepath.Join(dir, "outhook.db"), "nothing was created")
}

func TestRun_Version(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"--version", "-version", "version"} {
		code, stdout, stderr := runCLI(t, nil, arg)
		require.Equal(t, 0, code, stderr)
		require.Regexp(t, `^outhook \S+ .*go1\.\d+`, stdout)
	}
	code, stdout, _ := runCLI(t, nil, "help")
	require.Equal(t, 0, code)
	require.Contains(t, stdout, "outhook --version")
}

// TestVersionLine_FromLdflags: the version `make build` stamps with -X main.version (not parallel: it sets the
// package variable).
func TestVersionLine_FromLdflags(t *testing.T) {
	old := version
	t.Cleanup(func() { version = old })
	version = "v1.2.3"
	require.Regexp(t, `^outhook v1\.2\.3 (\(commit [0-9a-f]+(-dirty)?\) )?go1\.\d+`, versionLine())
}

// TestRun_AWSNeedsAURL: --aws signs for the deployed API, so it never falls back to the local server's address.
func TestRun_AWSNeedsAURL(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"events", "list", "s", "--aws"},
		{"send", "s", "t", "--data", "{}", "--aws"},
		{"secrets", "get", "s", "user_1", "--aws"},
	} {
		code, _, stderr := runCLI(t, nil, args...)
		require.Equal(t, 2, code, stderr)
		require.Contains(t, stderr, "--aws needs the deployed API's URL: pass --url")
		require.Contains(t, stderr, "OUTHOOK_URL")
	}
}

// TestCheckDataDir: a data directory others may write to is refused, one they may read is a warning.
func TestCheckDataDir(t *testing.T) {
	t.Parallel()
	for mode, want := range map[os.FileMode]string{
		0o700: "",
		0o750: "warning: readable by other users",
		0o755: "warning: readable by other users",
		0o770: "error: writable by other users",
		0o777: "error: writable by other users",
	} {
		dir := filepath.Join(t.TempDir(), "data")
		require.NoError(t, os.Mkdir(dir, 0o700))
		require.NoError(t, os.Chmod(dir, mode))
		warning, err := checkDataDir(dir)
		switch {
		case want == "":
			require.NoError(t, err, "%o", mode)
			require.Empty(t, warning, "%o", mode)
		case strings.HasPrefix(want, "warning: "):
			require.NoError(t, err, "%o", mode)
			require.Contains(t, warning, strings.TrimPrefix(want, "warning: "), "%o", mode)
		default:
			require.ErrorContains(t, err, strings.TrimPrefix(want, "error: "), "%o", mode)
			require.ErrorContains(t, err, "chmod 700 "+dir)
		}
	}
}

// TestRun_ServeRefusesAnOpenDataDirectory: the refusal stops serve before it creates the database.
func TestRun_ServeRefusesAnOpenDataDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "webhooks.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("sets: [{name: a, endpoints: [{name: e, url: 'https://example.com/'}]}]"), 0o600))
	data := filepath.Join(dir, "data")
	require.NoError(t, os.Mkdir(data, 0o700))
	require.NoError(t, os.Chmod(data, 0o777))
	code, _, stderr := runCLI(t, nil, "serve", "--config", cfg, "--data", data)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "is writable by other users (mode 0777)")
	require.NoFileExists(t, filepath.Join(data, "outhook.db"))
}
