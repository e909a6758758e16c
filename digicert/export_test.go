package digicert

import "time"

// SetGateFresh sets how long a passed gate stands (gateFresh) until the
// test ends; restore is returned.
func SetGateFresh(d time.Duration) (restore func()) {
	old := gateFresh
	gateFresh = d
	return func() { gateFresh = old }
}
