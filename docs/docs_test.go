package docs_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// root is the repository root, seen from this package's directory (where go test runs).
const root = ".."

func read(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, path))
	require.NoError(t, err)
	return string(data)
}

// markdown lists the project's Markdown files, repository-relative.
func markdown(t *testing.T) []string {
	t.Helper()
	files := []string{"README.md", "localstack/README.md"}
	more, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	require.NoError(t, err)
	for _, f := range more {
		rel, err := filepath.Rel(root, f)
		require.NoError(t, err)
		files = append(files, rel)
	}
	return files
}

var (
	fencedBlock = regexp.MustCompile("(?s)```[^\n]*\n(.*?)```")
	inlineCode  = regexp.MustCompile("`([^`\n]+)`")
)

// code returns the code of a Markdown text: its fenced blocks, then its inline code spans.
func code(text string) []string {
	var out []string
	for _, m := range fencedBlock.FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	for _, m := range inlineCode.FindAllStringSubmatch(fencedBlock.ReplaceAllString(text, ""), -1) {
		out = append(out, m[1])
	}
	return out
}

// openAPI is what the tests read of docs/openapi.yaml.
type openAPI struct {
	Paths      map[string]map[string]any `yaml:"paths"`
	Components struct {
		Responses map[string]struct {
			Description string `yaml:"description"`
		} `yaml:"responses"`
	} `yaml:"components"`
}

func loadOpenAPI(t *testing.T) (openAPI, string) {
	t.Helper()
	text := read(t, "docs/openapi.yaml")
	var doc openAPI
	require.NoError(t, yaml.Unmarshal([]byte(text), &doc))
	require.NotEmpty(t, doc.Paths)
	return doc, text
}

var routeRE = regexp.MustCompile(`^(GET|POST|PUT|PATCH|DELETE) (/[^\s?]*)`)

// TestREADME_RoutesAreInOpenAPI: every route the README shows (its API table is relative to
// /v1/webhooks/{set}, apart from the root routes /healthz and /metrics), and every full /v1/... route in
// docs/*.md, is an operation of docs/openapi.yaml.
func TestREADME_RoutesAreInOpenAPI(t *testing.T) {
	t.Parallel()
	doc, _ := loadOpenAPI(t)
	operations := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			operations[strings.ToUpper(method)+" "+path] = true
		}
	}
	checked := 0
	for _, file := range markdown(t) {
		for _, c := range code(read(t, file)) {
			m := routeRE.FindStringSubmatch(c)
			if m == nil {
				continue
			}
			path := m[2]
			switch {
			case strings.HasPrefix(path, "/v1/") || path == "/healthz" || path == "/metrics":
			case file == "README.md":
				path = "/v1/webhooks/{set}" + path
			default:
				continue // a path relative to something the page names in prose
			}
			require.True(t, operations[m[1]+" "+path], "%s shows the route %q, which docs/openapi.yaml does not have", file, c)
			checked++
		}
	}
	require.GreaterOrEqual(t, checked, 7, "the README's API section was not found")
}

var codeRE = regexp.MustCompile("`([a-z][a-z0-9_]*)`")

// readmeErrorCodes returns the codes of the README's error table (rows "| <status> | `code`, ... |").
func readmeErrorCodes(t *testing.T) map[string]string {
	t.Helper()
	codes := map[string]string{}
	for _, line := range strings.Split(read(t, "README.md"), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 {
			continue
		}
		status, err := strconv.Atoi(strings.TrimSpace(cells[1]))
		if err != nil || status < 400 || status > 599 {
			continue
		}
		for _, m := range codeRE.FindAllStringSubmatch(cells[2], -1) {
			codes[m[1]] = cells[1]
		}
	}
	return codes
}

// TestREADME_ErrorCodesAgreeWithOpenAPI: the README's table of error codes and docs/openapi.yaml name the same
// codes (openapi's shared error responses, components.responses, list them).
func TestREADME_ErrorCodesAgreeWithOpenAPI(t *testing.T) {
	t.Parallel()
	doc, text := loadOpenAPI(t)
	readme := readmeErrorCodes(t)
	require.GreaterOrEqual(t, len(readme), 20, "the README's error table was not found")
	for c := range readme {
		require.True(t, strings.Contains(text, "`"+c+"`"), "the README lists the error code %s, which docs/openapi.yaml does not mention", c)
	}
	responses := 0
	for name, r := range doc.Components.Responses {
		for _, m := range codeRE.FindAllStringSubmatch(r.Description, -1) {
			responses++
			require.Contains(t, readme, m[1], "docs/openapi.yaml's %s response names the error code %s, which the README's error table does not list", name, m[1])
		}
	}
	require.GreaterOrEqual(t, responses, 15, "openapi's error responses were not found")
}

var (
	targetRE  = regexp.MustCompile(`(?m)^([A-Za-z0-9_-]+)\s*:([^=]|$)`)
	makeUseRE = regexp.MustCompile(`(?:^|[\s;&|(])make\s+(?:-\S+\s+)*([a-z][a-z0-9-]*)`)
)

// TestDocs_MakeTargetsExist: every `make <target>` the docs and CI show is a target of the Makefile.
func TestDocs_MakeTargetsExist(t *testing.T) {
	t.Parallel()
	targets := map[string]bool{}
	makefiles, err := filepath.Glob(filepath.Join(root, "mk", "*.mk"))
	require.NoError(t, err)
	for _, f := range append(makefiles, filepath.Join(root, "Makefile")) {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range targetRE.FindAllStringSubmatch(string(data), -1) {
			targets[m[1]] = true
		}
	}
	require.True(t, targets["help"] && targets["run"] && targets["test"], "targets not parsed: %v", targets)

	uses := 0
	check := func(where, text string) {
		for _, m := range makeUseRE.FindAllStringSubmatch(text, -1) {
			uses++
			require.True(t, targets[m[1]], "%s runs `make %s`, which is not a Makefile target", where, m[1])
		}
	}
	for _, file := range markdown(t) {
		for _, c := range code(read(t, file)) {
			check(file, c)
		}
	}
	check(".ci/run", read(t, ".ci/run"))
	require.GreaterOrEqual(t, uses, 15, "too few `make` commands found: the scan is broken")
}

var linkRE = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// TestDocs_RelativeLinksResolve: every relative link of the Markdown files names a file or directory that exists.
func TestDocs_RelativeLinksResolve(t *testing.T) {
	t.Parallel()
	links := 0
	for _, file := range markdown(t) {
		for _, m := range linkRE.FindAllStringSubmatch(read(t, file), -1) {
			target, _, _ := strings.Cut(m[1], "#")
			if target == "" || strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			links++
			_, err := os.Stat(filepath.Join(root, filepath.Dir(file), target))
			require.NoError(t, err, "%s links to %s", file, m[1])
		}
	}
	require.GreaterOrEqual(t, links, 5)
}

var (
	perMonthRE  = regexp.MustCompile(`\$([0-9]+\.[0-9]{2})/month`)
	idleREADME  = regexp.MustCompile(`At rest \(no traffic\) the example stack costs about \$([0-9.]+) a month`)
	idleDeploy  = regexp.MustCompile(`an idle deployment of the example config costs about \$([0-9.]+) a month`)
	costSection = regexp.MustCompile(`(?s)## What it costs at rest\n(.*?)\n## `)
)

// TestDocs_IdleCostAgrees: the idle cost in the README and in docs/deploy.md's summary is the sum of the
// at-rest column of deploy.md's cost table (per-user secrets apart: they are counted per user).
func TestDocs_IdleCostAgrees(t *testing.T) {
	t.Parallel()
	deploy := read(t, "docs/deploy.md")
	section := costSection.FindStringSubmatch(deploy)
	require.NotNil(t, section, "docs/deploy.md has no cost section")
	var cents int
	var rows []string
	for _, line := range strings.Split(section[1], "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || strings.Contains(cells[2], "every user") {
			continue
		}
		amounts := perMonthRE.FindAllStringSubmatch(cells[2], -1)
		if len(amounts) == 0 {
			continue
		}
		c, err := strconv.ParseFloat(amounts[len(amounts)-1][1], 64) // "3 x $0.10 = $0.30/month": the total
		require.NoError(t, err)
		cents += int(c*100 + 0.5)
		rows = append(rows, strings.TrimSpace(cells[1]))
	}
	require.True(t, slices.Contains(rows, "CloudWatch alarms"), "cost rows not parsed: %v", rows)
	total := strconv.FormatFloat(float64(cents)/100, 'f', 2, 64)

	summary := idleDeploy.FindStringSubmatch(deploy)
	require.NotNil(t, summary, "docs/deploy.md has no idle-cost summary")
	require.Equal(t, total, summary[1], "docs/deploy.md's summary against its table (rows %v)", rows)
	readme := idleREADME.FindStringSubmatch(read(t, "README.md"))
	require.NotNil(t, readme, "README.md has no idle cost")
	require.Equal(t, total, readme[1], "README.md's idle cost against docs/deploy.md's table")
}
