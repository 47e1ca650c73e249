// Command outhook is the outhook CLI: `outhook serve` runs the local server (the HTTP API and the delivery
// workers over one SQLite file), `outhook listen` a receiver that prints and verifies webhooks, and the other
// subcommands talk to a running server. `outhook help` lists them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// commands is the dispatch table: each subcommand's description and run function, both defined in the
// subcommand's own file. (The run function is bound here rather than in the description so that it may use
// the description, e.g. sendCommand.flags, without an initialization cycle.)
var commands = []struct {
	*command
	run runFunc
}{
	{serveCommand, runServe},
	{listenCommand, runListen},
	{sendCommand, runSend},
	{eventsCommand, runEvents},
	{secretsCommand, runSecrets},
	{endpointsCommand, runEndpoints},
	{resendCommand, runResend},
	{verifyCommand, runVerify},
	{uiCommand, runUI},
}

// A command describes one subcommand, `outhook <name> [flags]`.
type command struct {
	name     string
	summary  string // one line for `outhook help`
	synopsis string // the usage line after "outhook ", e.g. "serve --config FILE [flags]"
}

// runFunc executes a command with its arguments (after the name). It returns a usageError for bad arguments,
// flag.ErrHelp after printing the usage for -h, an error with an ExitCode() int method for a specific exit
// code, any other error for a failure (exit 1).
type runFunc func(ctx context.Context, env *env, args []string) error

// env is what a command may use of the process: its standard streams and environment.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

// usageError is a mistake in the command line: exit code 2. shown: the flag package already printed it
// with the usage.
type usageError struct {
	msg   string
	shown bool
}

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{msg: fmt.Sprintf(format, args...)} }

// flags returns a flag set for c that prints c's usage and flag defaults on -h or a parse error.
func (c *command) flags(e *env) *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: outhook %s\n\n%s\n\nflags:\n", c.synopsis, c.summary)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args into fs and refuses positional arguments.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{msg: err.Error(), shown: true}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop) // after the first signal, a second one kills as usual
	code := run(ctx, &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}, os.Args[1:])
	stop()
	os.Exit(code)
}

// run dispatches args to a command and returns the exit code: 0 ok, 1 runtime error, 2 usage error.
func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		printUsage(e.stderr)
		return 2
	}
	name := args[0]
	if name == "help" || name == "-h" || name == "--help" {
		printUsage(e.stdout)
		return 0
	}
	if name == "--version" || name == "-version" || name == "version" {
		fmt.Fprintln(e.stdout, versionLine())
		return 0
	}
	var run runFunc
	for _, c := range commands {
		if c.name == name {
			run = c.run
		}
	}
	if run == nil {
		fmt.Fprintf(e.stderr, "outhook: unknown command %q\n\n", name)
		printUsage(e.stderr)
		return 2
	}
	err := run(ctx, e, args[1:])
	var usage usageError
	var coded interface{ ExitCode() int }
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &usage):
		if !usage.shown {
			fmt.Fprintf(e.stderr, "outhook %s: %s\nrun 'outhook %s -h' for usage\n", name, usage.msg, name)
		}
		return 2
	case errors.As(err, &coded):
		fmt.Fprintf(e.stderr, "outhook %s: %s\n", name, err)
		return coded.ExitCode()
	default:
		fmt.Fprintf(e.stderr, "outhook %s: %s\n", name, err)
		return 1
	}
}

func printUsage(w io.Writer) {
	var b strings.Builder
	b.WriteString("outhook: outbound webhooks\n\nusage: outhook <command> [flags]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-10s %s\n", c.name, c.summary)
	}
	b.WriteString("\nrun 'outhook <command> -h' for a command's flags, 'outhook --version' for the version\n")
	b.WriteString("exit codes: 0 ok, 1 API or runtime error, 2 usage error, 3 not found, 4 verification failed\n")
	_, _ = io.WriteString(w, b.String())
}
