package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/outhook/outhook/shared/client"
)

// Exit codes beyond 0 (ok), 1 (API or runtime error) and 2 (usage error).
const (
	exitNotFound     = 3 // the set, event or route does not exist
	exitVerifyFailed = 4 // outhook verify: the signature does not verify
)

// defaultURL is the local server's address (`outhook serve`'s default).
const defaultURL = "http://127.0.0.1:8080"

// exitError is an error with its own exit code.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }
func (e exitError) ExitCode() int { return e.code }

// apiFailure gives an API answer of 404 the exit code "not found".
func apiFailure(err error) error {
	var apiErr *client.APIError
	if errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound {
		return exitError{code: exitNotFound, err: err}
	}
	return err
}

// remote holds the flags every command that calls the API shares.
type remote struct {
	url     string
	sendURL string // the send function URL (send only: addSendURLFlag)
	aws     bool
	json    bool
}

func addRemoteFlags(fs *flag.FlagSet, e *env) *remote {
	r := &remote{}
	fs.StringVar(&r.url, "url", e.getenv("OUTHOOK_URL"), "base URL of the API (env OUTHOOK_URL; without either, the local server "+defaultURL+")")
	fs.BoolVar(&r.aws, "aws", false, "sign requests with AWS SigV4 (default credential chain, AWS_REGION) for the deployed API, whose URL --url or OUTHOOK_URL must give, instead of the bearer key OUTHOOK_API_KEY")
	fs.BoolVar(&r.json, "json", false, "print the API's JSON answer instead of a table")
	return r
}

// addSendURLFlag adds --send-url, for the commands that send events.
func (r *remote) addSendURLFlag(fs *flag.FlagSet, e *env) {
	fs.StringVar(&r.sendURL, "send-url", e.getenv("OUTHOOK_SEND_URL"), "send through the deployment's send function URL "+
		"(the stack's SendFunctionUrl output; env OUTHOOK_SEND_URL), signed with SigV4 for the service lambda; needs --aws")
}

// client builds the API client: SigV4 with --aws, else the bearer key of OUTHOOK_API_KEY (if set).
func (r *remote) client(ctx context.Context, e *env) (*client.Client, error) {
	url := r.url
	switch {
	case url == "" && r.aws:
		return nil, usagef("--aws needs the deployed API's URL: pass --url https://<api-id>.execute-api.<region>.amazonaws.com or set OUTHOOK_URL (the stack's ApiUrl output)")
	case url == "":
		url = defaultURL
	}
	opts := []client.Option{client.WithUserAgent("outhook-cli")}
	if r.aws {
		cfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("load AWS config: %w", err)
		}
		opts = append(opts, client.WithSigV4(cfg))
		if r.sendURL != "" {
			opts = append(opts, client.WithSendURL(r.sendURL))
		}
	} else if r.sendURL != "" {
		return nil, usagef("--send-url (or OUTHOOK_SEND_URL) needs --aws: the send function URL takes SigV4 (IAM) only")
	} else if key := e.getenv("OUTHOOK_API_KEY"); key != "" {
		opts = append(opts, client.WithAPIKey(key))
	}
	c, err := client.New(url, opts...)
	if err != nil {
		return nil, usagef("%s", err)
	}
	return c, nil
}

// subcommandUsage prints the usage of a command with subcommands, with the flags they share.
func subcommandUsage(c *command, e *env) {
	fs := c.flags(e)
	addRemoteFlags(fs, e)
	fs.Usage()
}

// print writes v as indented JSON with --json (<, > and & as they are, like the API), else calls table.
func (r *remote) print(w io.Writer, v any, table func(tw *tabwriter.Writer)) error {
	if r.json {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("write JSON: %w", err)
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	table(tw)
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

// parseArgs parses flags that may come before, between or after the positional arguments, and checks
// that exactly want positional arguments were given (named in the usage error).
func parseArgs(fs *flag.FlagSet, args []string, want ...string) ([]string, error) {
	pos, err := positionals(fs, args)
	if err != nil {
		return nil, err
	}
	return checkArgs(pos, want...)
}

// positionals parses flags that may come before, between or after the positional arguments, and returns
// the positional arguments.
func positionals(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{msg: err.Error(), shown: true}
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// checkArgs checks that exactly want positional arguments were given (named in the usage error).
func checkArgs(pos []string, want ...string) ([]string, error) {
	if len(pos) < len(want) {
		return nil, usagef("missing %s", strings.Join(want[len(pos):], " and "))
	}
	if len(pos) > len(want) {
		return nil, usagef("unexpected argument %q", pos[len(want)])
	}
	return pos, nil
}

// stamp formats a time for tables: UTC, to the second.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// or returns s, or "-" when s is empty (tabwriter columns need a value).
func or(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printQueued writes a send or resend result as a table.
func printQueued(tw *tabwriter.Writer, res *client.SendResult) {
	fmt.Fprintf(tw, "event\t%s\n\n", res.EventID)
	fmt.Fprintln(tw, "ENDPOINT\tSTATUS\tATTEMPT")
	for _, d := range res.Deliveries {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", d.Endpoint, d.Status, d.AttemptID)
	}
}
