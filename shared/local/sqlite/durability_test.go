package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/local/sqlite"
	"github.com/outhook/outhook/shared/queue"
)

// writerEnv names the database a child test process writes to until it is killed.
const writerEnv = "OUTHOOK_SQLITE_TEST_WRITER"

func TestMain(m *testing.M) {
	if path := os.Getenv(writerEnv); path != "" {
		writeUntilKilled(path)
		return
	}
	os.Exit(m.Run())
}

// writeUntilKilled creates events and sends messages from several goroutines and prints "event <id>" or
// "message <body>" after each write is acknowledged.
func writeUntilKilled(path string) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	report := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, format+"\n", args...)
		out.Flush() //nolint:errcheck // the parent notices a missing line
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				ev := benchEvent()
				if _, err := db.Store().CreateEvent(ctx, ev); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				report("event %s", ev.ID)
				body := "m-" + ev.ID
				if err := db.Queue().Send(ctx, queue.Message{Body: []byte(body)}); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				report("message %s", body)
			}
		})
	}
	wg.Wait()
}

// TestDB_SurvivesSIGKILL checks the durability synchronous=NORMAL gives in WAL mode: every write acknowledged
// before the process is killed is there after a restart.
func TestDB_SurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "outhook.db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), writerEnv+"="+path)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())

	events, messages := map[string]bool{}, map[string]bool{}
	lines := bufio.NewScanner(stdout)
	deadline := time.Now().Add(30 * time.Second)
	for len(messages) < 500 && time.Now().Before(deadline) && lines.Scan() {
		kind, value, _ := strings.Cut(lines.Text(), " ")
		if kind == "event" {
			events[value] = true
		} else {
			messages[value] = true
		}
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	require.Error(t, cmd.Wait(), "the writer was killed")
	require.Len(t, messages, 500, "the writer acknowledged writes; stderr: %s", stderr.String())

	ctx := context.Background()
	db, err := sqlite.Open(ctx, path)
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	for id := range events {
		_, err := db.Store().GetEvent(ctx, "billing-events", id)
		require.NoError(t, err, "acknowledged event %s survives", id)
	}
	stored := map[string]bool{}
	for {
		got, err := db.Queue().Receive(ctx, 10, time.Minute)
		require.NoError(t, err)
		if len(got) == 0 {
			break
		}
		for _, m := range got {
			stored[string(m.Body)] = true
		}
	}
	for body := range messages {
		require.True(t, stored[body], "acknowledged message %s survives", body)
	}
}
