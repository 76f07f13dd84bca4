package sfsim

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/org"
)

// Webhook defines an Apex trigger on Object that posts the changed records
// to URL, the way orgs push changes to an HTTP endpoint: the trigger
// enqueues a Queueable job (callouts cannot run inside the trigger's
// transaction), and the job POSTs the records serialized with
// JSON.serialize, each wrapped as {"id", "changeType", "sObject"}, as one
// JSON array per transaction, with an Idempotency-Key header naming the job
// (stable across the job's own retries). Unlike Outbound Messages, callouts
// have no platform retry: the job retries MaxAttempts times, with
// Retry's schedule, as a well-written Queueable does.
type Webhook struct {
	// Name is the trigger's name (used by the admin API).
	Name string
	// Object is the sObject the trigger is on.
	Object string
	// URL receives the callouts.
	URL string
	// Headers are set on every callout (for example a shared secret).
	Headers map[string]string
	// HMACSecret, when set, signs each body: hex HMAC-SHA256 prefixed
	// sha256= in SignatureHeader (default X-Sfconnect-Signature).
	HMACSecret      []byte
	SignatureHeader string
	// MaxAttempts bounds a job's attempts (default 5).
	MaxAttempts int
	// Client sends the callouts; nil uses a plain client with
	// Retry.Timeout (Apex's default callout timeout is 10 s, its maximum
	// 120 s).
	Client *http.Client
	// Retry is the job's retry schedule; zero values take Outbound
	// Message defaults except Timeout, 10 s.
	Retry RetryPolicy
}

// WebhookEmitter is a running webhook trigger.
type WebhookEmitter struct {
	s      *Sim
	def    Webhook
	jobIDs *idSeq
	evIDs  *idSeq
	client *http.Client
	ctx    context.Context
	cancel context.CancelFunc
	wake   chan struct{}
	done   chan struct{}

	senderQueue[*calloutJob]
}

type calloutJob struct {
	id       string
	body     []byte
	eventIDs []string
	queued   time.Time
	next     time.Time
	failures int
}

// apexCalloutTimeout is Apex's default callout timeout.
const apexCalloutTimeout = 10 * time.Second

// defaultWebhookAttempts is how often a job tries before it gives up.
const defaultWebhookAttempts = 5

// AddWebhook defines a webhook trigger and starts its emitter; it stops
// with Close of the Sim (or of the emitter).
func (s *Sim) AddWebhook(def Webhook) (*WebhookEmitter, error) {
	if _, ok := s.Describe(def.Object); !ok {
		return nil, fmt.Errorf("sfsim: webhook %s: unknown object %q", def.Name, def.Object)
	}
	if !strings.HasPrefix(def.URL, "http://") && !strings.HasPrefix(def.URL, "https://") {
		return nil, fmt.Errorf("sfsim: webhook %s: URL must be http(s), got %q", def.Name, def.URL)
	}
	if def.Retry.Timeout <= 0 {
		def.Retry.Timeout = apexCalloutTimeout
	}
	def.Retry = def.Retry.withDefaults()
	if def.MaxAttempts <= 0 {
		def.MaxAttempts = defaultWebhookAttempts
	}
	if def.SignatureHeader == "" {
		def.SignatureHeader = "X-Sfconnect-Signature"
	}
	w := &WebhookEmitter{
		s: s, def: def, jobIDs: &idSeq{prefix: "707"}, evIDs: &idSeq{prefix: "e00"},
		client: def.Client, wake: make(chan struct{}, 1), done: make(chan struct{}),
	}
	if w.client == nil {
		w.client = &http.Client{Timeout: def.Retry.Timeout}
	}
	w.idle = sync.NewCond(&w.mu)
	w.ctx, w.cancel = context.WithCancel(context.Background())
	if err := s.senders.add(w.Close); err != nil {
		return nil, err
	}
	s.org.OnCommit(w.onCommit)
	go w.run()
	return w, nil
}

// Close stops the emitter; queued jobs are not sent. Idempotent.
func (w *WebhookEmitter) Close() {
	w.cancel()
	<-w.done
}

// webhookEvent is one element of a callout body.
type webhookEvent struct {
	ID         string         `json:"id"`
	ChangeType string         `json:"changeType"`
	SObject    map[string]any `json:"sObject"`
}

// onCommit serializes the transaction's changes of the object (as
// Trigger.new, or Trigger.old's Id for deletes) into one job. It runs
// under the org's lock and touches only the emitter's state.
func (w *WebhookEmitter) onCommit(c *org.Commit) {
	var events []webhookEvent
	for _, ch := range c.Changes {
		if ch.Object != w.def.Object {
			continue
		}
		for _, id := range ch.RecordIDs {
			obj := map[string]any{}
			if ch.Type != "DELETE" && len(ch.RecordIDs) == 1 {
				for k, v := range ch.After {
					if v != nil {
						obj[k] = v
					}
				}
			}
			obj["attributes"] = map[string]any{"type": w.def.Object,
				"url": fmt.Sprintf("/services/data/v%s/sobjects/%s/%s", soapVersion, w.def.Object, id)}
			obj["Id"] = id
			events = append(events, webhookEvent{ID: w.evIDs.next(), ChangeType: ch.Type, SObject: obj})
		}
	}
	if len(events) == 0 {
		return
	}
	body, err := json.Marshal(events)
	if err != nil {
		return // values of the org are JSON-safe; nothing to send otherwise
	}
	job := &calloutJob{id: w.jobIDs.next(), body: body, queued: time.Now(), next: time.Now()}
	for _, ev := range events {
		job.eventIDs = append(job.eventIDs, ev.ID)
	}
	w.mu.Lock()
	w.pending = append(w.pending, job)
	w.stats.Queued++
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// run sends due jobs until Close.
func (w *WebhookEmitter) run() {
	defer close(w.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		job, wait := w.due(time.Now())
		if job != nil {
			w.send(job)
			continue
		}
		timer.Reset(wait)
		select {
		case <-w.ctx.Done():
			return
		case <-w.wake:
		case <-timer.C:
		}
	}
}

func (w *WebhookEmitter) due(now time.Time) (*calloutJob, time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	wait := time.Hour
	for _, j := range w.pending {
		if !j.next.After(now) {
			return j, 0
		}
		wait = min(wait, j.next.Sub(now))
	}
	return nil, wait
}

// send makes one callout attempt of job.
func (w *WebhookEmitter) send(job *calloutJob) {
	d := Delivery{At: time.Now(), IDs: job.eventIDs}
	ctx, cancel := context.WithTimeout(w.ctx, w.def.Retry.Timeout)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.def.URL, bytes.NewReader(job.body))
	if err == nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", job.id)
		for k, v := range w.def.Headers {
			req.Header.Set(k, v)
		}
		if w.def.HMACSecret != nil {
			mac := hmac.New(sha256.New, w.def.HMACSecret)
			mac.Write(job.body)
			req.Header.Set(w.def.SignatureHeader, "sha256="+hex.EncodeToString(mac.Sum(nil)))
		}
		var resp *http.Response
		resp, err = w.client.Do(req)
		if err == nil {
			d.Status = resp.StatusCode
			reply, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			_ = resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				err = fmt.Errorf("HTTP %d: %s", resp.StatusCode, firstLine(reply))
			}
		}
	}
	cancel()
	if w.ctx.Err() != nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stats.Attempts++
	remove := false
	if err == nil {
		d.OK = true
		w.stats.Delivered++
		remove = true
	} else {
		d.Err = err.Error()
		w.stats.Failures++
		job.failures++
		if job.failures >= w.def.MaxAttempts || time.Since(job.queued) >= w.def.Retry.GiveUpAfter {
			w.stats.Dropped++
			remove = true
		} else {
			job.next = time.Now().Add(w.def.Retry.delay(job.failures))
		}
	}
	if remove {
		w.pending = slices.DeleteFunc(w.pending, func(j *calloutJob) bool { return j == job })
		if len(w.pending) == 0 {
			w.idle.Broadcast()
		}
	}
	w.deliveries = append(w.deliveries, d)
}
