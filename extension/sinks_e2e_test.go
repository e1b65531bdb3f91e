package extension_test

// The SIEM sinks end to end: the real extension under lambdasim delivers to
// real receivers (the OpenTelemetry Collector for Splunk HEC and OTLP,
// VictoriaLogs for Elasticsearch bulk and Datadog), each behind Toxiproxy,
// through an outage and slow links; every receiver ends up holding exactly
// the records of the file store, once each by event.id.

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/audittrail/audittrail/internal/lambdasim"
	"github.com/audittrail/audittrail/internal/peers"
)

// siem is one sink's receiver, behind a proxy, and how to read it back.
type siem struct {
	sink  string
	proxy *peers.Proxy
	env   func(c *lambdasim.Config, proxyURL string)
	ids   func(t testing.TB) map[string]int // event.id → times received
}

// direct is the receiver's own address, bypassing the proxy.
func (s siem) direct() string { return "http://" + s.proxy.Upstream }

// receivers starts the real receivers and a proxy in front of each. Each
// VictoriaLogs serves one sink, so that reading one back never counts the
// other's records.
func receivers(t testing.TB) []siem {
	col := peers.Collector(t, peers.CollectorOptions{})
	ddLogs := peers.VictoriaLogs(t, peers.VictoriaLogsOptions{})
	esLogs := peers.VictoriaLogs(t, peers.VictoriaLogsOptions{})
	tox := peers.Toxiproxy(t)
	fromCollector := func(receiver string, id func(peers.LogRecord) string) func(t testing.TB) map[string]int {
		return func(t testing.TB) map[string]int {
			out := map[string]int{}
			for _, r := range col.Logs(t) {
				if r.Receiver == receiver {
					out[id(r)]++
				}
			}
			return out
		}
	}
	return []siem{
		{
			sink:  "splunk",
			proxy: tox.Proxy(t, "hec", col.HECURL),
			env: func(c *lambdasim.Config, url string) {
				c.Env["AUDITTRAIL_SPLUNK_URL"] = url
				c.Env["AUDITTRAIL_SPLUNK_TOKEN"] = col.HECToken
			},
			ids: fromCollector(peers.ReceiverHEC, func(r peers.LogRecord) string {
				body, _ := r.Body.(map[string]any)
				ev, _ := body["event"].(map[string]any)
				id, _ := ev["id"].(string)
				return id
			}),
		},
		{
			sink:  "otlp",
			proxy: tox.Proxy(t, "otlp", col.OTLPHTTPURL),
			env: func(c *lambdasim.Config, url string) {
				c.Env["OTEL_EXPORTER_OTLP_ENDPOINT"] = url // the standard variable, as OTel users set it
			},
			ids: fromCollector(peers.ReceiverOTLP, func(r peers.LogRecord) string {
				id, _ := r.Attributes["event.id"].(string)
				return id
			}),
		},
		{
			sink:  "elasticsearch",
			proxy: tox.Proxy(t, "elasticsearch", esLogs.URL),
			env: func(c *lambdasim.Config, url string) {
				c.Env["AUDITTRAIL_ELASTICSEARCH_URL"] = url + "/insert/elasticsearch?_time_field=@timestamp&_msg_field=event.action"
				c.Env["AUDITTRAIL_ELASTICSEARCH_API_KEY"] = "ZXM6a2V5"
			},
			ids: func(t testing.TB) map[string]int {
				out := map[string]int{}
				for _, row := range esLogs.Query(t, "*") {
					out[row["event.id"]]++
				}
				return out
			},
		},
		{
			sink:  "datadog",
			proxy: tox.Proxy(t, "datadog", ddLogs.URL),
			env: func(c *lambdasim.Config, url string) {
				c.Env["AUDITTRAIL_DATADOG_URL"] = url + "/insert/datadog/api/v2/logs"
				c.Env["DD_API_KEY"] = "datadog-api-key" // the Datadog users' variable
			},
			ids: func(t testing.TB) map[string]int {
				out := map[string]int{}
				for _, row := range ddLogs.Query(t, "*") {
					var rec struct {
						Event struct {
							ID string `json:"id"`
						} `json:"event"`
					}
					_ = json.Unmarshal([]byte(row["_msg"]), &rec)
					out[rec.Event.ID]++
				}
				return out
			},
		},
	}
}

// TestEverySinkDeliversEveryRecord: each SIEM sink alone, then all of them
// at once, through a network outage, connection resets, a hanging backend,
// a slow link, and recovery.
func TestEverySinkDeliversEveryRecord(t *testing.T) {
	all := receivers(t)
	cases := [][]siem{}
	for _, s := range all {
		cases = append(cases, []siem{s})
	}
	cases = append(cases, all)
	for _, ss := range cases {
		names := []string{}
		for _, s := range ss {
			names = append(names, s.sink)
		}
		name := "all"
		if len(ss) == 1 {
			name = ss[0].sink
		}
		t.Run(name, func(t *testing.T) {
			before := map[string]map[string]int{}
			for _, s := range ss {
				before[s.sink] = s.ids(t)
			}
			l := newLambda(t, true, func(c *lambdasim.Config) {
				withWrapper(c)
				c.Env["AUDITTRAIL_SINKS"] = "file," + strings.Join(names, ",")
				c.Env["AUDITTRAIL_FLUSH"] = "end"
				for _, s := range ss {
					s.env(c, s.proxy.URL())
				}
			})
			for range 3 {
				invokeOK(t, l, "/users/1")
			}
			for _, s := range ss {
				s.proxy.Disable(t) // the SIEMs are unreachable
			}
			for range 3 {
				invokeOK(t, l, "/admin")
			}
			for _, s := range ss {
				s.proxy.Enable(t)
			}
			// Then each kind of bad network in turn: connections reset,
			// a backend that hangs, a slow link.
			for _, toxic := range []peers.Toxic{peers.ResetPeer(0), peers.Timeout(0), peers.Latency(20*time.Millisecond, 5*time.Millisecond)} {
				added := map[string]string{}
				for _, s := range ss {
					added[s.sink] = s.proxy.AddToxic(t, toxic)
				}
				for range 2 {
					invokeOK(t, l, "/users/2")
				}
				for _, s := range ss {
					s.proxy.RemoveToxic(t, added[s.sink])
				}
			}
			invokeOK(t, l, "/health")
			l.shutdown(t)

			want, _ := ids(t, fileTrail(t, l))
			for _, s := range ss {
				got := s.ids(t)
				for id, n := range before[s.sink] {
					got[id] -= n // left by the cases before
					if got[id] == 0 {
						delete(got, id)
					}
				}
				if !slices.Equal(slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want))) {
					t.Errorf("%s holds %d distinct records, the file store %d", s.sink, len(got), len(want))
				}
			}
		})
	}
}
