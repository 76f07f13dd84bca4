package deploy_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/salesforce/sfsim"
)

// The alerts the issue asks for.
var requiredAlerts = []string{
	"SfconnectReplayPositionStuck",      // replay position stuck
	"SfconnectSourceLagHigh",            // lag above threshold
	"SfconnectSourceDeadLetters",        // DLQ growth, source side
	"SfconnectSinkDeadLetters",          // DLQ growth, sink side
	"SfconnectSalesforceAPIBudgetLow",   // API budget low
	"SfconnectInvalidReplayPolicyFired", // invalid replay policy fired
}

// TestMonitoring_Rules checks the alert rules' shape: every required alert,
// each with an expression, a severity and the annotations an on-call page
// shows.
func TestMonitoring_Rules(t *testing.T) {
	f := loadRuleFile(t)
	seen := map[string]bool{}
	for _, g := range f.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("group %q: want a name and rules", g.Name)
		}
		for _, r := range g.Rules {
			if r.Alert == "" || seen[r.Alert] {
				t.Errorf("alert %q: empty or duplicate name", r.Alert)
			}
			seen[r.Alert] = true
			if strings.TrimSpace(r.Expr) == "" {
				t.Errorf("%s: no expr", r.Alert)
			}
			if _, err := promqlRefs(r.Expr); err != nil {
				t.Errorf("%s: %v", r.Alert, err)
			}
			if r.For != "" {
				if _, err := time.ParseDuration(r.For); err != nil {
					t.Errorf("%s: for %q: %v", r.Alert, r.For, err)
				}
			}
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("%s: severity %q, want warning or critical", r.Alert, s)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: want summary and description annotations", r.Alert)
			}
		}
	}
	for _, a := range requiredAlerts {
		if !seen[a] {
			t.Errorf("alert %s missing", a)
		}
	}
}

// dashboardQueries returns every PromQL expression of the Grafana
// dashboard: panel targets, and the selectors of label_values() variables.
func dashboardQueries(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("grafana", "sfconnect.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID        string            `json:"uid"`
		Title      string            `json:"title"`
		Panels     []json.RawMessage `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("sfconnect.json: %v", err)
	}
	if d.UID == "" || d.Title == "" {
		t.Error("dashboard: want a uid and a title")
	}
	type panel struct {
		Title      string          `json:"title"`
		Type       string          `json:"type"`
		Datasource json.RawMessage `json:"datasource"`
		Targets    []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"` // collapsed rows
	}
	var exprs []string
	var walk func([]json.RawMessage)
	walk = func(ps []json.RawMessage) {
		for _, raw := range ps {
			var p panel
			if err := json.Unmarshal(raw, &p); err != nil {
				t.Fatalf("panel: %v", err)
			}
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if !strings.Contains(string(p.Datasource), "${datasource}") {
				t.Errorf("panel %q: datasource %s, want the ${datasource} variable", p.Title, p.Datasource)
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q: no queries", p.Title)
			}
			for _, tg := range p.Targets {
				if tg.Expr == "" {
					t.Errorf("panel %q: empty expr", p.Title)
				}
				exprs = append(exprs, tg.Expr)
			}
		}
	}
	walk(d.Panels)
	labelValues := regexp.MustCompile(`^label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\)$`)
	hasDatasource := false
	for _, v := range d.Templating.List {
		switch v.Type {
		case "datasource":
			hasDatasource = true
		case "query":
			q := v.Query
			if m, ok := q.(map[string]any); ok {
				q = m["query"]
			}
			s, _ := q.(string)
			m := labelValues.FindStringSubmatch(s)
			if m == nil {
				t.Errorf("variable %s: query %q; want label_values(<selector>, <label>)", v.Name, s)
				continue
			}
			// The label is checked like a matcher of the selector.
			exprs = append(exprs, strings.TrimSuffix(m[1], "}")+`, `+m[2]+`=""}`)
		}
	}
	if !hasDatasource {
		t.Error("dashboard: no datasource variable")
	}
	return exprs
}

// TestMonitoring_MetricsExported checks that every metric, and every label
// matched on, in the alert rules and the dashboard is one sfconnect
// exports. The names come from real runs of the binary, scraped at
// /metrics once each connector has processed something (labelled series
// only appear once used): the source against sfsim and an in-process Kafka
// broker; the Cosmos DB sink applying the source's records to the Cosmos
// DB stand-in (test/cosmos); the Salesforce sink writing web-app changes
// to sfsim (one applied, one losing a conflict, one dead-lettered, and a
// batch retried after a 503); and the HTTP ingest source taking signed
// webhooks (one new, one repeated, one with a bad signature).
func TestMonitoring_MetricsExported(t *testing.T) {
	var exprs []string
	for _, g := range loadRuleFile(t).Groups {
		for _, r := range g.Rules {
			exprs = append(exprs, r.Expr)
		}
	}
	exprs = append(exprs, dashboardQueries(t)...)

	cosmos := startCosmosStandIn(t)
	st := newStack(t)
	exported := map[string]map[string]bool{}
	merge := func(m map[string]map[string]bool) {
		for name, labels := range m {
			if exported[name] == nil {
				exported[name] = map[string]bool{}
			}
			for l := range labels {
				exported[name][l] = true
			}
		}
	}
	merge(sourceMetrics(t, st))
	merge(cosmosSinkMetrics(t, st, cosmos))
	merge(salesforceSinkMetrics(t, st))
	merge(ingestMetrics(t, st))
	for _, expr := range exprs {
		if err := checkRefs(expr, exported); err != nil {
			t.Error(err)
		}
	}
	// The check itself must be able to fail.
	if err := checkRefs(`rate(sfconnect_source_events_recieved_total[5m])`, exported); err == nil {
		t.Error("a misspelt metric passed the check")
	}
	if err := checkRefs(`sfconnect_source_lag_seconds{chanel="x"}`, exported); err == nil {
		t.Error("a misspelt label passed the check")
	}
}

// checkRefs reports metrics or labels of expr that exported lacks.
func checkRefs(expr string, exported map[string]map[string]bool) error {
	refs, err := promqlRefs(expr)
	if err != nil {
		return err
	}
	var problems []string
	for name, labels := range refs {
		have, ok := exported[name]
		if !ok {
			problems = append(problems, "metric "+name+" is not exported")
			continue
		}
		for _, l := range labels {
			if !have[l] {
				problems = append(problems, fmt.Sprintf("%s has no label %s", name, l))
			}
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return fmt.Errorf("%q: %s", expr, strings.Join(problems, "; "))
	}
	return nil
}

// sourceMetrics runs `sfconnect source` against the stack's sfsim and
// Kafka until its first transaction has committed, and returns what its
// /metrics exports. Its records (topic salesforce.Account) feed the Cosmos
// DB sink's run.
func sourceMetrics(t *testing.T, st *stack) map[string]map[string]bool {
	t.Helper()
	if _, err := st.sim.Create("Account", map[string]any{"Name": "Deploy check"}); err != nil {
		t.Fatal(err)
	}
	ops := freeAddr(t)
	cmd := execCommand(t, "source")
	for k, v := range map[string]string{
		"SFCONNECT_OPS_ADDR":                 ops,
		"SFCONNECT_LOG_LEVEL":                "warn",
		"SFCONNECT_KAFKA_BROKERS":            strings.Join(st.kafka.Seeds(), ","),
		"SFCONNECT_CONNECTOR_NAME":           "deploy-metrics",
		"SFCONNECT_DELIVERY_MODE":            "exactly_once",
		"SFCONNECT_TOPIC_PARTITIONS":         "1",
		"SFCONNECT_SALESFORCE_LOGIN_URL":     st.sim.URL(),
		"SFCONNECT_SALESFORCE_CLIENT_ID":     sfsim.DefaultClientID,
		"SFCONNECT_SALESFORCE_CLIENT_SECRET": sfsim.DefaultClientSecret,
		"SFCONNECT_SOURCE_CHANNELS":          "/data/AccountChangeEvent",
		"SFCONNECT_SOURCE_PUBSUB_ENDPOINT":   st.sim.GRPCAddr(),
		"SFCONNECT_SOURCE_PUBSUB_PLAINTEXT":  "true",
		"SFCONNECT_SOURCE_INITIAL_REPLAY":    "earliest",
	} {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	c := startChild(t, cmd)
	defer c.stop()
	// A committed transaction means every per-channel and per-stream
	// series of the source path exists.
	want := []string{"sfconnect_source_events_received_total", "sfconnect_source_records_total",
		"sfconnect_source_offset_writes_total", "sfconnect_source_transactions_total", "sfconnect_source_batch_seconds_bucket"}
	var got map[string]map[string]bool
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) && !c.exited() {
		if text, err := scrape("http://" + ops + "/metrics"); err == nil {
			got = parseExposition(text)
			if hasAll(got, want) {
				return got
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("sfconnect source exported %d metrics and not yet all of %q (exited: %v):\n%s", len(got), want, c.exited(), c.out.String())
	return nil
}

func scrape(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(body), err
}

var exposedLabel = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*)="(?:[^"\\]|\\.)*"`)

// parseExposition returns the series names of a Prometheus text exposition
// (histograms as their _bucket, _sum and _count series) with their label
// names.
func parseExposition(text string) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		end := strings.IndexAny(line, "{ ")
		if end < 0 {
			continue
		}
		name := line[:end]
		if out[name] == nil {
			out[name] = map[string]bool{}
		}
		if line[end] == '{' {
			close := strings.LastIndexByte(line, '}')
			for _, m := range exposedLabel.FindAllStringSubmatch(line[end+1:max(close, end+1)], -1) {
				out[name][m[1]] = true
			}
		}
	}
	return out
}

func hasAll(got map[string]map[string]bool, names []string) bool {
	for _, n := range names {
		if _, ok := got[n]; !ok {
			return false
		}
	}
	return true
}
