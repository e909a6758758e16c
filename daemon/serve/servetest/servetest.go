// Package servetest reads what package serve answers, for tests: the
// /healthz body, the values of a metric and the per-spec lines of
// /metrics.
package servetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// Healthz asks h for /healthz and returns the status code and the decoded
// body.
func Healthz(t testing.TB, h http.Handler) (int, map[string]string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("/healthz body %q: %v", rec.Body.String(), err)
	}
	return rec.Code, body
}

// Gauges returns the series of the gauge name in g, sorted, as
// "label=value,label=value: value".
func Gauges(t testing.TB, g prometheus.Gatherer, name string) []string {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, fam := range fams {
		if fam.GetName() != name {
			continue
		}
		for _, mt := range fam.GetMetric() {
			var labels []string
			for _, l := range mt.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			out = append(out, fmt.Sprintf("%s: %v", strings.Join(labels, ","), mt.GetGauge().GetValue()))
		}
	}
	sort.Strings(out)
	return out
}

// SpecFamilies are the per-spec metric families (serve's ObserveSpecs).
var SpecFamilies = []string{"certform_certificate_expiration_timestamp_seconds", "certform_order_expiration_timestamp_seconds",
	"certform_certificate_renewal_timestamp_seconds", "certform_certificate_renewal_pending", "certform_certificate_ready_status"}

// SpecLines returns the lines of the /metrics text that are of the
// per-spec families (SpecFamilies).
func SpecLines(text string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(text, "\n") {
		if slices.ContainsFunc(SpecFamilies, func(f string) bool { return strings.Contains(l, f+"{") || strings.Contains(l, f+" ") }) {
			b.WriteString(l)
		}
	}
	return b.String()
}
