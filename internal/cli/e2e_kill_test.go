package cli

// kill -9 tests of the calls that must land once: orders, reissues and
// renewals, with the built binary against a slow fake CertCentral that
// carries out every request it received.

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certform/certform/digicert/digicerttest"
	"github.com/certform/certform/state"
	"github.com/google/go-cmp/cmp"
)

// killLoop starts apply (args) again and again and kills it at a random
// moment within the given time, unless it ends first, until it has been
// killed kills times (or has run 4 times that often). before runs before
// each start, to give the run something to do; check after each run
// ended or was killed. It returns the number of kills and how many of
// them left a call's outcome unknown (an intent in the state).
func killLoop(t *testing.T, env []string, args []string, st string, kills int, within time.Duration, before func(), check func(killed int)) (killed, inFlight int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for runs := 0; killed < kills && runs < 4*kills; runs++ {
		before()
		cmd := exec.Command(binary, args...)
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done: // finished by itself
		case <-time.After(time.Duration(rng.Int64N(int64(within)))):
			cmd.Process.Kill()
			<-done
			killed++
			if f, err := state.Read(st); err == nil {
				for _, e := range f.Entries {
					if e.Intent != nil {
						inFlight++
						break
					}
				}
			}
		}
		check(killed)
	}
	return killed, inFlight
}

// finalApply waits until the fake has carried out every call it got, and
// until the latest re-send time an intent records (the killed runs' own
// --resend-after: no process sends again before it), then applies once
// more with --resend-after 0s, which must succeed.
func finalApply(t *testing.T, srv *digicerttest.Server, env []string, dir, st string) {
	t.Helper()
	srv.WaitIdle(10 * time.Second)
	if f, err := state.Read(st); err == nil {
		var last time.Time
		for _, e := range f.Entries {
			if e.Intent != nil && e.Intent.ResendAt.After(last) {
				last = e.Intent.ResendAt
			}
		}
		time.Sleep(time.Until(last.Add(10 * time.Millisecond)))
	}
	code, stdout, stderr := runBinary(t, env, "apply", "--dir", dir, "--state", st, "--resend-after", "0s", "--quiet-period", "0s", "--parallelism", "16", "--max-purchases", "1000")
	if code != 0 {
		t.Fatalf("final apply: exit %d\n%s%s", code, stdout, stderr)
	}
}

// TestApply_killLoopReissue changes one spec's names and CSR before every
// start of apply, kills it at random moments while a slow CertCentral
// carries out every request it got (a reissue takes 1 s), and restarts
// it at once: no order may ever get a second reissue request, and in the
// end every changed spec has exactly one.
func TestApply_killLoopReissue(t *testing.T) {
	if testing.Short() {
		t.Skip("kill loop")
	}
	t.Parallel()
	const specs, kills = 40, 25
	srv, env, dir, st := appliedSpecs(t, specs, digicerttest.WithLatency(100*time.Millisecond))
	srv.Inject(digicerttest.Fault{Method: "POST", Path: "/order/certificate/*", Latency: time.Second})
	changed := 0
	args := []string{"apply", "--dir", dir, "--state", st, "--quiet-period", "0s", "--resend-after", "2s", "--max-purchases", "1000"}
	killed, inFlight := killLoop(t, env, args, st, kills, 1500*time.Millisecond, func() {
		if changed < specs {
			writeSpecNames(t, dir, changed, []string{fmt.Sprintf("www.host%02d.example.com", changed)})
			changed++
		}
	}, func(killed int) {
		for path, n := range reissuePosts(srv) {
			if n > 1 {
				t.Fatalf("after %d kills: %d reissue requests for %s", killed, n, path)
			}
		}
	})
	finalApply(t, srv, env, dir, st)
	posts := reissuePosts(srv)
	t.Logf("%d kills (%d with a call in flight), %d specs changed, %d reissued", killed, inFlight, changed, len(posts))
	f := loadStateFile(t, st)
	for i := range changed {
		e := f.Entries[fmt.Sprintf("host%02d", i)]
		path := fmt.Sprintf("/order/certificate/%d/reissue", e.OrderID)
		if o, _ := srv.Order(e.OrderID); posts[path] != 1 || len(o.Reissues) != 1 || e.Intent != nil {
			t.Errorf("host%02d: %d reissue requests, %d reissues, intent %+v", i, posts[path], len(o.Reissues), e.Intent)
		}
	}
	if len(srv.Orders()) != specs {
		t.Errorf("%d orders for %d specs", len(srv.Orders()), specs)
	}
}

// TestApply_killLoopRenew makes one more order end in 10 days before
// every start of apply, kills it at random moments while a slow
// CertCentral carries out every request it got (an order takes 1 s), and
// restarts it at once: no order may ever get a second renewal order, and
// in the end every order made to end is renewed exactly once, the
// renewal tracked under the spec's name.
func TestApply_killLoopRenew(t *testing.T) {
	if testing.Short() {
		t.Skip("kill loop")
	}
	t.Parallel()
	const specs, kills = 40, 25
	srv, env, dir, st := appliedSpecs(t, specs, digicerttest.WithLatency(100*time.Millisecond))
	srv.Inject(digicerttest.Fault{Method: "POST", Path: "/order/certificate/ssl", Latency: time.Second})
	ending := map[string]int{} // spec name -> the order made to end
	args := []string{"apply", "--dir", dir, "--state", st, "--quiet-period", "0s", "--resend-after", "2s", "--max-purchases", "1000"}
	killed, inFlight := killLoop(t, env, args, st, kills, 1500*time.Millisecond, func() {
		if n := len(ending); n < specs {
			name := fmt.Sprintf("host%02d", n)
			ending[name] = endsIn(t, srv, st, name, 10*24*time.Hour)
		}
	}, func(killed int) {
		for id, n := range renewalPosts(t, srv) {
			if n > 1 {
				t.Fatalf("after %d kills: %d renewal orders for order %d", killed, n, id)
			}
		}
	})
	finalApply(t, srv, env, dir, st)
	posts := renewalPosts(t, srv)
	t.Logf("%d kills (%d with a call in flight), %d orders made to end, %d renewal orders", killed, inFlight, len(ending), len(posts))
	f := loadStateFile(t, st)
	for name, old := range ending {
		o, _ := srv.Order(old)
		e := f.Entries[name]
		if posts[old] != 1 || o.RenewedOrderID == 0 || e.OrderID != o.RenewedOrderID || !cmp.Equal(e.PreviousOrderIDs, []int{old}) || e.Intent != nil {
			t.Errorf("%s: %d renewal orders for order %d (renewed by %d); entry tracks %d, previous %v, intent %+v",
				name, posts[old], old, o.RenewedOrderID, e.OrderID, e.PreviousOrderIDs, e.Intent)
		}
	}
	if len(srv.Orders()) != specs+len(ending) {
		t.Errorf("%d orders for %d specs and %d renewals", len(srv.Orders()), specs, len(ending))
	}
}

// killAtEachCall kills apply with SIGKILL as its k-th call reaches a slow
// CertCentral (which carries the call out anyway), for each of the calls
// that apply makes when not killed (counted by a first run, k = 0); then
// applies again with --resend-after 0s. prepare makes the change applied
// on a fresh account of one applied spec; check proves the end state; the
// plan after must be empty.
func killAtEachCall(t *testing.T, prepare func(t *testing.T, srv *digicerttest.Server, dir, st string), check func(t *testing.T, srv *digicerttest.Server, st string)) {
	var calls int
	for k := 0; k == 0 || k <= calls; k++ {
		t.Run(fmt.Sprintf("kill at call %d", k), func(t *testing.T) {
			if k > 0 {
				t.Parallel()
			}
			var armed atomic.Bool
			var n atomic.Int32
			arrived := make(chan string, 1)
			hook := func(r digicerttest.Request) {
				if armed.Load() && int(n.Add(1)) == k {
					arrived <- r.Method + " " + r.Path
				}
			}
			srv, env, dir, st := appliedSpecs(t, 1, digicerttest.WithLatency(200*time.Millisecond), digicerttest.WithHook(hook))
			prepare(t, srv, dir, st)
			armed.Store(true)
			// --resend-after 0s: the intent the killed run leaves may be
			// sent again by the re-apply at once (it records resend_at).
			cmd := exec.Command(binary, "apply", "--dir", dir, "--state", st, "--resend-after", "0s")
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			select {
			case call := <-arrived:
				cmd.Process.Kill()
				<-done
				t.Logf("killed at %s", call)
			case <-done:
				if k > 0 {
					t.Fatalf("apply ended before its call %d", k)
				}
				calls = int(n.Load())
				t.Logf("apply makes %d calls", calls)
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				t.Fatal("apply neither ended nor made a call")
			}
			armed.Store(false)
			if !srv.WaitIdle(10 * time.Second) {
				t.Fatal("the fake did not finish the call in flight")
			}
			code, stdout, stderr := runBinary(t, env, "apply", "--dir", dir, "--state", st, "--resend-after", "0s")
			if code != 0 {
				t.Fatalf("re-apply: exit %d\n%s%s", code, stdout, stderr)
			}
			check(t, srv, st)
			if code, stdout, _ := runBinary(t, env, "plan", "--dir", dir, "--state", st, "--detailed-exitcode"); code != 0 {
				t.Errorf("plan after re-apply: exit %d\n%s", code, stdout)
			}
		})
		if calls == 0 {
			t.Fatal("apply made no call")
		}
	}
}

// TestApply_killReissueAtEachCall: kill -9 at each call of a reissue's
// apply, then apply again: one reissue request, settled in the state.
func TestApply_killReissueAtEachCall(t *testing.T) {
	t.Parallel()
	killAtEachCall(t, func(t *testing.T, _ *digicerttest.Server, dir, _ string) {
		writeSpecNames(t, dir, 0, []string{"www.host00.example.com"})
	}, func(t *testing.T, srv *digicerttest.Server, st string) {
		e := loadStateFile(t, st).Entries["host00"]
		posts := reissuePosts(srv)
		if o, _ := srv.Order(e.OrderID); !cmp.Equal(posts, map[string]int{fmt.Sprintf("/order/certificate/%d/reissue", e.OrderID): 1}) || len(o.Reissues) != 1 ||
			e.Intent != nil || !strings.Contains(e.Fixed["dns_names"], "www.host00.example.com") {
			t.Errorf("reissue requests %v, %d reissues, entry %+v", posts, len(o.Reissues), e)
		}
	})
}

// TestApply_killRenewalAtEachCall: kill -9 at each call of a renewal's
// apply, then apply again: one renewal order, tracked under the name.
func TestApply_killRenewalAtEachCall(t *testing.T) {
	t.Parallel()
	killAtEachCall(t, func(t *testing.T, srv *digicerttest.Server, _, st string) {
		endsIn(t, srv, st, "host00", 10*24*time.Hour)
	}, func(t *testing.T, srv *digicerttest.Server, st string) {
		e := loadStateFile(t, st).Entries["host00"]
		old := 0
		if len(e.PreviousOrderIDs) > 0 {
			old = e.PreviousOrderIDs[0]
		}
		posts := renewalPosts(t, srv)
		if o, _ := srv.Order(old); !cmp.Equal(posts, map[int]int{old: 1}) || e.OrderID != o.RenewedOrderID || !cmp.Equal(e.PreviousOrderIDs, []int{old}) || e.Intent != nil {
			t.Errorf("renewal orders %v, order %d renewed by %d, entry tracks %d (previous %v, intent %+v)", posts, old, o.RenewedOrderID, e.OrderID, e.PreviousOrderIDs, e.Intent)
		}
	})
}
