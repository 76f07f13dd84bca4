package salesforce

import (
	"strconv"
	"strings"
)

// limitInfoHeader is the response header that reports the org's API
// request usage: "api-usage=18/5000", newer orgs add "; api-bursts=1/750".
const limitInfoHeader = "Sforce-Limit-Info"

// apiUsage is the last usage an answer reported.
type apiUsage struct{ used, limit int }

// parseLimitInfo reads api-usage=<used>/<max> from a Sforce-Limit-Info
// value. Pairs are separated by ";" or ",".
func parseLimitInfo(v string) (used, limit int, ok bool) {
	for _, pair := range strings.FieldsFunc(v, func(r rune) bool { return r == ';' || r == ',' }) {
		k, val, found := strings.Cut(pair, "=")
		if !found || !strings.EqualFold(strings.TrimSpace(k), "api-usage") {
			continue
		}
		u, m, found := strings.Cut(strings.TrimSpace(val), "/")
		if !found {
			return 0, 0, false
		}
		used, err1 := strconv.Atoi(strings.TrimSpace(u))
		limit, err2 := strconv.Atoi(strings.TrimSpace(m))
		if err1 != nil || err2 != nil || used < 0 || limit < 0 {
			return 0, 0, false
		}
		return used, limit, true
	}
	return 0, 0, false
}

// APIUsage returns the org's API requests used today and its daily limit,
// as the last answer carrying Sforce-Limit-Info reported them (every REST
// answer does, errors included). ok is false until one has. The numbers
// are org-wide, not this client's share; with concurrent calls the last
// answer to arrive wins.
func (c *Client) APIUsage() (used, max int, ok bool) {
	u := c.usage.Load()
	if u == nil {
		return 0, 0, false
	}
	return u.used, u.limit, true
}

// noteUsage records the usage an answer reported, if any.
func (c *Client) noteUsage(v string) {
	if used, limit, ok := parseLimitInfo(v); ok {
		c.usage.Store(&apiUsage{used: used, limit: limit})
	}
}
