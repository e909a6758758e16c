package daemon

import (
	"time"

	"github.com/robfig/cron/v3"
)

// cronParser accepts five-field cron expressions and descriptors such as
// @every 15m, @hourly, @daily.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Schedule is when periodic cycles run: a cron expression read in UTC.
type Schedule struct {
	text  string
	sched cron.Schedule
}

// ParseSchedule reads five cron fields ("*/15 * * * *") or a descriptor
// ("@every 15m", "@hourly", "@daily"), as github.com/robfig/cron/v3 does.
func ParseSchedule(text string) (*Schedule, error) {
	s, err := cronParser.Parse(text)
	if err != nil {
		return nil, err
	}
	return &Schedule{text: text, sched: s}, nil
}

// String returns the schedule as it was written.
func (s *Schedule) String() string { return s.text }

// Next returns the first tick after t, in UTC; the zero time if there is
// none.
func (s *Schedule) Next(t time.Time) time.Time { return s.sched.Next(t.UTC()) }
