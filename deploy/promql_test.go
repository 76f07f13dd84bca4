package deploy_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// promqlRefs returns the metric names an expression reads and, per
// metric, the label names its selectors match on. It is a small scanner,
// not a PromQL parser: it removes strings, ranges, selectors' braces and
// grouping clauses, and what is left is functions (names before a
// parenthesis, which must be PromQL's), keywords, numbers and metric
// names. An identifier it cannot place is an error, never skipped.
func promqlRefs(expr string) (map[string][]string, error) {
	refs := map[string][]string{}
	s := blankQuoted(expr)
	s = regexp.MustCompile(`\[[^\]]*\]`).ReplaceAllString(s, " ")

	// Selectors: metric{label="..."} or {label="..."}.
	var b strings.Builder
	for {
		open := strings.IndexByte(s, '{')
		if open < 0 {
			b.WriteString(s)
			break
		}
		end := strings.IndexByte(s[open:], '}')
		if end < 0 {
			return nil, fmt.Errorf("%q: unbalanced {", expr)
		}
		name := trailingIdent(s[:open])
		for _, m := range strings.Split(s[open+1:open+end], ",") {
			m = strings.TrimSpace(m)
			if m == "" {
				continue
			}
			label := regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)`).FindStringSubmatch(m)
			if label == nil {
				return nil, fmt.Errorf("%q: cannot read matcher %q", expr, m)
			}
			if name != "" && label[1] != "__name__" {
				refs[name] = append(refs[name], label[1])
			}
		}
		b.WriteString(s[:open])
		b.WriteByte(' ')
		s = s[open+end+1:]
	}
	s = b.String()
	s = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`).ReplaceAllString(s, " ")

	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c >= '0' && c <= '9' || c == '.':
			for i < len(s) && (isIdent(s[i]) || s[i] == '.') {
				i++
			}
		case isIdent(c):
			j := i
			for j < len(s) && isIdent(s[j]) {
				j++
			}
			word := s[i:j]
			rest := strings.TrimLeft(s[j:], " \t\n")
			switch {
			case strings.HasPrefix(rest, "("):
				if !slices.Contains(promqlFunctions, word) {
					return nil, fmt.Errorf("%q: %s( is not a PromQL function", expr, word)
				}
			case slices.Contains(promqlKeywords, strings.ToLower(word)):
			default:
				if _, ok := refs[word]; !ok {
					refs[word] = nil
				}
			}
			i = j
		default:
			i++
		}
	}
	return refs, nil
}

func isIdent(c byte) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// trailingIdent returns the identifier s ends with (spaces allowed), or "".
func trailingIdent(s string) string {
	s = strings.TrimRight(s, " \t\n")
	i := len(s)
	for i > 0 && isIdent(s[i-1]) {
		i--
	}
	if i == len(s) || s[i] >= '0' && s[i] <= '9' {
		return ""
	}
	return s[i:]
}

// blankQuoted replaces the contents of string literals with nothing, so
// that label values ("$connector", "/data/...") are not read as names.
func blankQuoted(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		q := s[i]
		if q != '"' && q != '\'' && q != '`' {
			b.WriteByte(q)
			continue
		}
		b.WriteString(`""`)
		for i++; i < len(s) && s[i] != q; i++ {
			if s[i] == '\\' && q != '`' {
				i++
			}
		}
	}
	return b.String()
}

// PromQL's functions and aggregation operators, and its keywords.
var (
	promqlFunctions = strings.Fields(`abs absent absent_over_time acos acosh asin asinh atan atanh avg avg_over_time
		bottomk ceil changes clamp clamp_max clamp_min cos cosh count count_over_time count_values day_of_month
		day_of_week day_of_year days_in_month deg delta deriv double_exponential_smoothing exp floor group
		histogram_avg histogram_count histogram_fraction histogram_quantile histogram_stddev histogram_stdvar
		histogram_sum holt_winters hour idelta increase irate label_join label_replace last_over_time limitk
		limit_ratio ln log10 log2 mad_over_time max max_over_time min min_over_time minute month pi
		predict_linear present_over_time quantile quantile_over_time rad rate resets round scalar sgn sin sinh
		sort sort_by_label sort_by_label_desc sort_desc sqrt stddev stddev_over_time stdvar stdvar_over_time sum
		sum_over_time tan tanh time timestamp topk vector year`)
	promqlKeywords = strings.Fields(`and or unless bool offset by without on ignoring group_left group_right
		atan2 inf nan start end`)
)

func TestPromQLRefs(t *testing.T) {
	for _, tc := range []struct {
		expr    string
		want    map[string][]string
		wantErr string
	}{
		{
			expr: `changes(sfconnect_source_replay_position[15m]) == 0
			  and on (connector, channel) increase(sfconnect_source_reconnects_total{connector=~"$connector"}[15m]) > 0`,
			want: map[string][]string{"sfconnect_source_replay_position": nil, "sfconnect_source_reconnects_total": {"connector"}},
		},
		{
			expr: `histogram_quantile(0.99, sum by (connector, le) (rate(sfconnect_sink_write_seconds_bucket{connector=~"a|b", topic!="x{y}"}[$__rate_interval])))`,
			want: map[string][]string{"sfconnect_sink_write_seconds_bucket": {"connector", "topic"}},
		},
		{
			expr: `sum without (class) (increase(sfconnect_sink_dead_letters_total[1h] offset 5m)) / 1e3 > bool 2`,
			want: map[string][]string{"sfconnect_sink_dead_letters_total": nil},
		},
		{expr: `{__name__=~"sfconnect_.+", connector="a"}`, want: map[string][]string{}},
		{expr: `up * on (instance) group_left (connector) sfconnect_x`, want: map[string][]string{"up": nil, "sfconnect_x": nil}},
		{expr: `rat(sfconnect_x[5m])`, wantErr: "not a PromQL function"},
		{expr: `sfconnect_x{connector}`, wantErr: "cannot read matcher"},
	} {
		got, err := promqlRefs(tc.expr)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("promqlRefs(%q) error %v, want %q", tc.expr, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("promqlRefs(%q): %v", tc.expr, err)
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("promqlRefs(%q) = %v, want %v", tc.expr, got, tc.want)
		}
	}
}
