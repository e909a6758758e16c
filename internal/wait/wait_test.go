package wait

import (
	"context"
	"errors"
	"testing"
)

// TestSleep: a sleep ends with the context's error when the context ends
// first, and with nil when its time passes.
func TestSleep(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, 1<<62); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	if err := Sleep(context.Background(), 0); err != nil {
		t.Fatalf("zero: %v", err)
	}
}
