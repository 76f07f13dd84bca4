package salesforce

import "strings"

// CallClientID returns the client id the client stamps on every request
// (ClientConfig.CallClientID), or "" when it stamps none. The write-back
// sink checks it against its own setting: the source's loop filter relies
// on the two being the same.
func (c *Client) CallClientID() string {
	return strings.TrimPrefix(c.callOptions, "client=")
}
