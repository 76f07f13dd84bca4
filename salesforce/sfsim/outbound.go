package sfsim

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/org"
)

// OutboundMessage defines a workflow Outbound Message: whenever a record of
// Object is created or edited (and Criteria, if set, accepts it), a
// notification is queued and sent, with the record's current values of
// Fields, to EndpointURL as a SOAP notifications call. Up to 100 queued
// notifications share one message; a message is acknowledged only by a
// notificationsResponse with Ack true, anything else is retried under
// Retry (Salesforce's schedule by default), each notification on its own
// schedule, so they can arrive out of order and more than once.
type OutboundMessage struct {
	// Name is the action's name (used by the admin API).
	Name string
	// Object is the sObject the rule watches.
	Object string
	// Fields are the fields sent; Id is always sent.
	Fields []string
	// EndpointURL receives the messages.
	EndpointURL string
	// SendSessionID includes a session id, as the "Send Session ID" option
	// does.
	SendSessionID bool
	// Criteria, when set, decides per change (CREATE, UPDATE, UNDELETE)
	// whether the rule fires; nil fires on every create and edit.
	Criteria func(changeType string, record map[string]any) bool
	// Client sends the messages (for TLS trust or a client certificate);
	// nil uses a plain client with Retry.Timeout.
	Client *http.Client
	// Retry is the retry schedule.
	Retry RetryPolicy
}

// Outbound is a running Outbound Message sender.
type Outbound struct {
	s        *Sim
	def      OutboundMessage
	actionID string
	ids      *idSeq
	client   *http.Client
	ctx      context.Context
	cancel   context.CancelFunc
	wake     chan struct{}
	done     chan struct{}

	senderQueue[*notification]
}

type notification struct {
	id, recordID string
	queued, next time.Time
	failures     int
}

var actionIDs = &idSeq{prefix: "04k"}

// AddOutboundMessage defines an Outbound Message and starts its sender; it
// stops with Close of the Sim (or of the Outbound).
func (s *Sim) AddOutboundMessage(def OutboundMessage) (*Outbound, error) {
	if _, ok := s.Describe(def.Object); !ok {
		return nil, fmt.Errorf("sfsim: outbound message %s: unknown object %q", def.Name, def.Object)
	}
	if !strings.HasPrefix(def.EndpointURL, "http://") && !strings.HasPrefix(def.EndpointURL, "https://") {
		return nil, fmt.Errorf("sfsim: outbound message %s: endpoint URL must be http(s), got %q", def.Name, def.EndpointURL)
	}
	for _, f := range def.Fields {
		if !apiName(f) {
			return nil, fmt.Errorf("sfsim: outbound message %s: bad field name %q", def.Name, f)
		}
	}
	def.Retry = def.Retry.withDefaults()
	o := &Outbound{
		s: s, def: def, actionID: actionIDs.next(), ids: &idSeq{prefix: "04l"},
		client: def.Client, wake: make(chan struct{}, 1), done: make(chan struct{}),
	}
	if o.client == nil {
		o.client = &http.Client{Timeout: def.Retry.Timeout}
	}
	o.idle = sync.NewCond(&o.mu)
	o.ctx, o.cancel = context.WithCancel(context.Background())
	if err := s.senders.add(o.Close); err != nil {
		return nil, err
	}
	s.org.OnCommit(o.onCommit)
	go o.run()
	return o, nil
}

// ActionID returns the action's id, sent as ActionId.
func (o *Outbound) ActionID() string { return o.actionID }

// Close stops the sender; queued notifications are not sent. Idempotent.
func (o *Outbound) Close() {
	o.cancel()
	<-o.done
}

// onCommit queues notifications; it runs under the org's lock, so it only
// touches the sender's own state.
func (o *Outbound) onCommit(c *org.Commit) {
	now := time.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, ch := range c.Changes {
		if ch.Object != o.def.Object {
			continue
		}
		switch ch.Type {
		case "CREATE", "UPDATE", "UNDELETE":
		default:
			continue // workflow rules do not fire on delete
		}
		if o.def.Criteria != nil && !o.def.Criteria(ch.Type, map[string]any(ch.After)) {
			continue
		}
		for _, id := range ch.RecordIDs {
			o.pending = append(o.pending, &notification{id: o.ids.next(), recordID: id, queued: now, next: now})
			o.stats.Queued++
		}
	}
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// run delivers due notifications until Close.
func (o *Outbound) run() {
	defer close(o.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		batch, wait := o.due(time.Now())
		if len(batch) > 0 {
			o.deliver(batch)
			continue
		}
		timer.Reset(wait)
		select {
		case <-o.ctx.Done():
			return
		case <-o.wake:
		case <-timer.C:
		}
	}
}

// due drops notifications past the give-up age and returns up to 100 that
// are due, or how long until the next one is.
func (o *Outbound) due(now time.Time) ([]*notification, time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	wait := time.Hour
	var batch []*notification
	kept := o.pending[:0]
	for _, n := range o.pending {
		switch {
		case now.Sub(n.queued) >= o.def.Retry.GiveUpAfter:
			o.stats.Dropped++
			continue
		case !n.next.After(now) && len(batch) < 100:
			batch = append(batch, n)
		case n.next.After(now):
			wait = min(wait, n.next.Sub(now))
		default:
			wait = 0
		}
		kept = append(kept, n)
	}
	clear(o.pending[len(kept):])
	o.pending = kept
	if len(o.pending) == 0 {
		o.idle.Broadcast()
	}
	return batch, wait
}

// deliver sends one message and updates the queue from its outcome.
func (o *Outbound) deliver(batch []*notification) {
	body := o.message(batch)
	d := Delivery{At: time.Now()}
	for _, n := range batch {
		d.IDs = append(d.IDs, n.id)
	}
	ctx, cancel := context.WithTimeout(o.ctx, o.def.Retry.Timeout)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.def.EndpointURL, bytes.NewReader(body))
	if err == nil {
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
		req.Header.Set("SOAPAction", `"notifications"`)
		var resp *http.Response
		resp, err = o.client.Do(req)
		if err == nil {
			d.Status = resp.StatusCode
			reply, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			_ = resp.Body.Close()
			switch {
			case rerr != nil:
				err = rerr
			case resp.StatusCode != http.StatusOK:
				err = fmt.Errorf("HTTP %d: %s", resp.StatusCode, firstLine(reply))
			case !parseAck(reply):
				err = errors.New("no Ack true in the response")
			}
		}
	}
	cancel()
	if o.ctx.Err() != nil {
		return // closing: the attempt does not count
	}
	now := time.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	o.stats.Attempts++
	if err == nil {
		d.OK = true
		o.stats.Delivered += len(batch)
		o.pending = slices.DeleteFunc(o.pending, func(n *notification) bool { return slices.Contains(batch, n) })
		if len(o.pending) == 0 {
			o.idle.Broadcast()
		}
	} else {
		d.Err = err.Error()
		o.stats.Failures++
		for _, n := range batch {
			n.failures++
			n.next = now.Add(o.def.Retry.delay(n.failures))
		}
	}
	o.deliveries = append(o.deliveries, d)
}

// message renders the SOAP notifications call of batch with the records'
// current values (a record changed since it was queued is sent as it is
// now; a deleted one with no fields).
func (o *Outbound) message(batch []*notification) []byte {
	org15 := DefaultOrgID[:15]
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">` + "\n")
	b.WriteString(" <soapenv:Body>\n  <notifications xmlns=\"http://soap.sforce.com/2005/09/outbound\">\n")
	fmt.Fprintf(&b, "   <OrganizationId>%s</OrganizationId>\n   <ActionId>%s</ActionId>\n", DefaultOrgID, o.actionID)
	if o.def.SendSessionID {
		fmt.Fprintf(&b, "   <SessionId>%s!SIMSESSION%s</SessionId>\n", org15, o.actionID[:8])
	} else {
		b.WriteString("   <SessionId xsi:nil=\"true\"/>\n")
	}
	fmt.Fprintf(&b, "   <EnterpriseUrl>%s/services/Soap/c/%s/%s</EnterpriseUrl>\n", o.s.URL(), soapVersion, org15)
	fmt.Fprintf(&b, "   <PartnerUrl>%s/services/Soap/u/%s/%s</PartnerUrl>\n", o.s.URL(), soapVersion, org15)
	for _, n := range batch {
		rec, err := o.s.Get(o.def.Object, n.recordID)
		fmt.Fprintf(&b, "   <Notification>\n    <Id>%s</Id>\n", n.id)
		fmt.Fprintf(&b, "    <sObject xsi:type=\"sf:%s\" xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\">\n", o.def.Object)
		if err == nil {
			fmt.Fprintf(&b, "     <sf:Id>%s</sf:Id>\n", n.recordID)
			fields := slices.Clone(o.def.Fields)
			sort.Strings(fields)
			for _, f := range fields {
				if f == "Id" {
					continue
				}
				v, ok := rec[f]
				if !ok || v == nil {
					fmt.Fprintf(&b, "     <sf:%s xsi:nil=\"true\"/>\n", f)
					continue
				}
				fmt.Fprintf(&b, "     <sf:%s>", f)
				_ = xml.EscapeText(&b, []byte(soapValue(v)))
				fmt.Fprintf(&b, "</sf:%s>\n", f)
			}
		}
		b.WriteString("    </sObject>\n   </Notification>\n")
	}
	b.WriteString("  </notifications>\n </soapenv:Body>\n</soapenv:Envelope>\n")
	return b.Bytes()
}

// soapVersion is the API version of the URLs in a message.
const soapVersion = "62.0"

// soapValue renders a field value as SOAP text.
func soapValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case time.Time:
		return x.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	return fmt.Sprint(v)
}

// parseAck reports whether body is a notificationsResponse with Ack true.
func parseAck(body []byte) bool {
	var env struct {
		Body struct {
			Response *struct {
				Ack string `xml:"http://soap.sforce.com/2005/09/outbound Ack"`
			} `xml:"http://soap.sforce.com/2005/09/outbound notificationsResponse"`
		} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
	}
	if err := xml.Unmarshal(body, &env); err != nil || env.Body.Response == nil {
		return false
	}
	return strings.TrimSpace(env.Body.Response.Ack) == "true"
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
