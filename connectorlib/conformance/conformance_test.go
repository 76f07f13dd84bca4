package conformance_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sfconnect/sfconnect/connectorlib/conformance"
)

// The reference implementations must pass the whole suite.

func TestRunSource_Reference(t *testing.T) {
	for _, policy := range []conformance.InvalidPositionPolicy{
		conformance.InvalidPositionFail,
		conformance.InvalidPositionEarliest,
		conformance.InvalidPositionLatest,
	} {
		t.Run("on_invalid_"+string(policy), func(t *testing.T) {
			conformance.RunSource(t, newRefSourceDriver(srcCorrect, policy))
		})
	}
}

func TestRunSource_Reference_NoReplay(t *testing.T) {
	// A source declaring no Replay skips the resume tests with a message
	// and passes the rest.
	d := newRefSourceDriver(srcCorrect, conformance.InvalidPositionUndeclared)
	d.features.Replay = false
	conformance.RunSource(t, d)
}

func TestRunSink_Reference(t *testing.T) {
	conformance.RunSink(t, newRefSinkDriver(sinkCorrect))
}

// A suite that cannot fail is worthless. The tests below run the suite
// against deliberately broken implementations in a child process (this
// test binary, re-run with harnessEnv set) and assert that the subtests
// each breakage violates FAILED, with a message naming the violation.

// harnessEnv selects what TestConformanceHarness runs in a child process:
// "source:<bug>" or "sink:<bug>".
const harnessEnv = "CONFORMANCE_HARNESS"

const harnessTest = "TestConformanceHarness"

// TestConformanceHarness runs the suite against the implementation that
// harnessEnv names. It only does something in a child process.
func TestConformanceHarness(t *testing.T) {
	kind, bug, ok := strings.Cut(os.Getenv(harnessEnv), ":")
	if !ok {
		t.Skip("runs only in a child process started by TestRunSource_CatchesBroken and TestRunSink_CatchesBroken")
	}
	switch kind {
	case "source":
		conformance.RunSource(t, newRefSourceDriver(sourceBug(bug), conformance.InvalidPositionFail))
	case "sink":
		conformance.RunSink(t, newRefSinkDriver(sinkBug(bug)))
	default:
		t.Fatalf("unknown harness kind %q", kind)
	}
}

// harnessResult is what a child run of the suite reported.
type harnessResult struct {
	exitOK bool
	status map[string]string // subtest (without the harness prefix) -> PASS, FAIL or SKIP
	logs   map[string]string // subtest -> its output
	output string
}

var resultLine = regexp.MustCompile(`^\s*--- (PASS|FAIL|SKIP): (\S+)`)
var runLine = regexp.MustCompile(`^=== (?:RUN|NAME|CONT)\s+(\S+)`)

// runHarness runs the suite in a child process against sel and parses its
// verbose output.
func runHarness(sel string) (harnessResult, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^"+harnessTest+"$", "-test.v", "-test.count=1", "-test.timeout=120s")
	cmd.Env = append(os.Environ(), harnessEnv+"="+sel)
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return harnessResult{}, fmt.Errorf("run child: %w", err)
	}
	res := harnessResult{exitOK: err == nil, status: map[string]string{}, logs: map[string]string{}, output: string(out)}
	cur := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := runLine.FindStringSubmatch(line); m != nil {
			cur = strings.TrimPrefix(strings.TrimPrefix(m[1], harnessTest), "/")
			continue
		}
		if m := resultLine.FindStringSubmatch(line); m != nil {
			res.status[strings.TrimPrefix(strings.TrimPrefix(m[2], harnessTest), "/")] = m[1]
			continue
		}
		res.logs[cur] += line + "\n"
	}
	return res, nil
}

// logsOf returns the output of subtest name and its own subtests.
func (r harnessResult) logsOf(name string) string {
	var b strings.Builder
	for k, v := range r.logs {
		if k == name || strings.HasPrefix(k, name+"/") {
			b.WriteString(v)
		}
	}
	return b.String()
}

func (r harnessResult) failed() []string {
	var out []string
	for k, v := range r.status {
		if v == "FAIL" && k != "" && !strings.Contains(k, "/") {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// brokenCase is one broken implementation and the subtests that must
// catch it: subtest name -> a substring of the failure message.
type brokenCase struct {
	bug  string
	want map[string]string
}

func checkBroken(t *testing.T, kind string, cases []brokenCase) {
	t.Helper()
	// The children spend most of their time waiting for the suite's
	// timeouts, so they all run at once, whatever -test.parallel says.
	type result struct {
		res harnessResult
		err error
	}
	results := make([]chan result, len(cases))
	for i, c := range cases {
		results[i] = make(chan result, 1)
		go func() {
			res, err := runHarness(kind + ":" + c.bug)
			results[i] <- result{res, err}
		}()
	}
	for i, c := range cases {
		name := c.bug
		if name == "" {
			name = "reference"
		}
		r := <-results[i]
		t.Run(name, func(t *testing.T) {
			if r.err != nil {
				t.Fatal(r.err)
			}
			res := r.res
			if len(res.status) == 0 {
				t.Fatalf("child reported no subtests:\n%s", res.output)
			}
			failed := res.failed()
			t.Logf("failed subtests: %v", failed)
			if len(c.want) == 0 {
				// The reference run proves the harness reports a pass.
				if !res.exitOK || len(failed) > 0 {
					t.Fatalf("reference implementation failed %v:\n%s", failed, res.output)
				}
				return
			}
			if res.exitOK {
				t.Fatalf("the suite PASSED against broken %s %q:\n%s", kind, c.bug, res.output)
			}
			for sub, msg := range c.want {
				if res.status[sub] != "FAIL" {
					t.Errorf("subtest %s did not fail (status %q) against broken %s %q", sub, res.status[sub], kind, c.bug)
					continue
				}
				if logs := res.logsOf(sub); !strings.Contains(logs, msg) {
					t.Errorf("subtest %s failed, but not with %q:\n%s", sub, msg, logs)
				}
			}
			if t.Failed() {
				t.Logf("child output:\n%s", res.output)
			}
		})
	}
}

func TestRunSource_CatchesBroken(t *testing.T) {
	t.Parallel()
	checkBroken(t, "source", []brokenCase{
		{bug: string(srcCorrect)},
		{bug: string(srcSkipOnResume), want: map[string]string{
			"Open_ResumeAfterPartialAck":    "never arrived",
			"Ack_OutOfOrder_DoesNotAdvance": "were lost",
		}},
		{bug: string(srcIgnoreFrom), want: map[string]string{
			"Open_ResumeAfterPartialAck": "at or before its acked position",
		}},
		{bug: string(srcResumeFromLastRead), want: map[string]string{
			"Open_ResumeAfterPartialAck":    "never arrived",
			"Ack_OutOfOrder_DoesNotAdvance": "never acked were lost",
			"Restart_AtLeastOnce":           "were not delivered again",
		}},
		{bug: string(srcCloseLeavesRead), want: map[string]string{
			"Close_WhileReadBlocked": "Close must unblock it",
		}},
		{bug: string(srcCloseTwiceFails), want: map[string]string{
			"Close_Idempotent": "Close must be idempotent",
		}},
		{bug: string(srcReadIgnoresCancel), want: map[string]string{
			"Read_BlocksUntilCancel": "Read must return ctx.Err() promptly",
		}},
		{bug: string(srcEmptyBatch), want: map[string]string{
			"Read_BlocksUntilCancel": "must block until a record is available",
		}},
		{bug: string(srcOversizedBatch), want: map[string]string{
			"Backpressure_BoundedInFlight": "the declared MaxBatch is 3",
		}},
		{bug: string(srcInvalidSilentLatest), want: map[string]string{
			"InvalidReplayID_FollowsPolicy": "accepted silently",
		}},
		{bug: string(srcInvalidRetryable), want: map[string]string{
			"InvalidReplayID_FollowsPolicy": "mark it connectorlib.Permanent",
		}},
		{bug: string(srcDropOnDisconnect), want: map[string]string{
			"Read_SurvivesDisconnect": "after disconnect_once, 5 of 10 events arrived",
		}},
		{bug: string(srcLeakGoroutine), want: map[string]string{
			"Close_Idempotent": "found unexpected goroutines",
		}},
		{bug: string(srcConfigWrongKey), want: map[string]string{
			"Configure_MissingRequired": `does not name "topic"`,
		}},
		{bug: string(srcNoMaxBatch), want: map[string]string{
			"Backpressure_BoundedInFlight": "declares no MaxBatch",
		}},
		{bug: string(srcNoPolicy), want: map[string]string{
			"InvalidReplayID_FollowsPolicy": "no OnInvalidPosition policy",
		}},
	})
}

func TestRunSink_CatchesBroken(t *testing.T) {
	t.Parallel()
	checkBroken(t, "sink", []brokenCase{
		{bug: string(sinkCorrect)},
		{bug: string(sinkDropFailed), want: map[string]string{
			"Write_PartialFailure_ReturnsIndexes": "dropped silently",
			"Write_BadRecord_IsPermanent":         "Write of the bad record returned nil",
		}},
		{bug: string(sinkWrongIndex), want: map[string]string{
			"Write_PartialFailure_ReturnsIndexes": "BatchError names indexes [3]; want exactly [2]",
			"Write_BadRecord_IsPermanent":         "BatchError names indexes [1]; want exactly [0]",
		}},
		{bug: string(sinkBadRetryable), want: map[string]string{
			"Write_PartialFailure_ReturnsIndexes": "want permanent",
			"Write_BadRecord_IsPermanent":         "want permanent",
		}},
		{bug: string(sinkWholeBatch), want: map[string]string{
			"Write_PartialFailure_ReturnsIndexes": "want a *connectorlib.BatchError",
		}},
		{bug: string(sinkThrottlePermanent), want: map[string]string{
			"Write_Throttled_IsRetryable": "want a retryable one",
		}},
		{bug: string(sinkAppend), want: map[string]string{
			"Write_SameBatchTwice_Idempotent": "is held 2 times; want once",
		}},
		{bug: string(sinkCorruptValue), want: map[string]string{
			"Write_RoundTrip": "holds",
		}},
		{bug: string(sinkFirstWins), want: map[string]string{
			"Write_OrderedPerKey_LastWins": `want "{\"Name\":\"Account 2\"`,
		}},
		{bug: string(sinkCloseTwiceFails), want: map[string]string{
			"Close_Idempotent": "Close must be idempotent",
		}},
		{bug: string(sinkWriteHangs), want: map[string]string{
			"Write_Throttled_IsRetryable": "did not return within",
		}},
	})
}
