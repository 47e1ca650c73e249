package syncbuf_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/syncbuf"
)

func TestBuffer_ConcurrentWritesAndReads(t *testing.T) {
	t.Parallel()
	var b syncbuf.Buffer
	const writers, lines = 8, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range lines {
				_, err := fmt.Fprintf(&b, "writer %d line %d\n", w, i)
				require.NoError(t, err)
				_ = b.String() // a read while the others write
			}
		})
	}
	wg.Wait()
	got := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	require.Len(t, got, writers*lines)
	for _, line := range got {
		require.Regexp(t, `^writer \d line \d+$`, line, "no write is torn by another")
	}
}
