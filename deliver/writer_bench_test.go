package deliver

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

// BenchmarkWriter_Write1000 delivers 1,000 names for the first time into a
// new folder, par at once: the file system work of BenchmarkDeliver1000
// (./reconcile) without the download, the checks and the state. Reported:
// ms/delivery, the wall time per name.
func BenchmarkWriter_Write1000(b *testing.B) {
	for _, par := range []int{1, 4} {
		b.Run(fmt.Sprintf("parallel%d", par), func(b *testing.B) {
			f := newFixture(b)
			bundle := f.bundle()
			const n = 1000
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				w := &Writer{Dir: filepath.Join(b.TempDir(), "certs")}
				work := make(chan int)
				var wg sync.WaitGroup
				for range par {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for j := range work {
							if _, _, err := w.Write(fmt.Sprintf("name%04d", j), bundle); err != nil {
								b.Error(err)
							}
						}
					}()
				}
				for j := range n {
					work <- j
				}
				close(work)
				wg.Wait()
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*n), "ms/delivery")
		})
	}
}
