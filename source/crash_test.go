package source_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/connectorlib/kafkaio"
	"github.com/sfconnect/sfconnect/connectorlib/kafkatest"
	"github.com/sfconnect/sfconnect/connectorlib/offsetstore"
	"github.com/sfconnect/sfconnect/salesforce/pubsub"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
	"github.com/sfconnect/sfconnect/source"
)

// The crash test's workload: crashRecords Accounts are created, then
// updated until crashChanges changes (one change event each) have been
// made, crashPerTx changes per sfsim transaction, spread over
// crashGenerateOver while the source processes are being killed.
const (
	crashRecords      = 2_000
	crashChanges      = 100_000
	crashPerTx        = 200
	crashKills        = 20
	crashGenerateOver = 30 * time.Second
	crashChannel      = "/data/AccountChangeEvent"
	// crashBudget bounds one delivery mode's run, kills included.
	crashBudget = 5 * time.Minute
)

// TestSource_Run_SurvivesKills runs the real sfconnect binary's source
// against sfsim (in this process, so it outlives the kills) while sfsim
// generates crashChanges changes: the source process is SIGKILLed at
// crashKills random points and restarted, then a last process drains the
// rest and stops on SIGTERM. A read_committed consumer must then see every
// change exactly once and in per-record order (exactly_once), or at least
// once with duplicates only (at_least_once).
//
// Every change n (0 ≤ n < crashChanges) is made to record ids[n %
// crashRecords] and sets its NumberOfEmployees to n, so a change is
// identified by (record id, n) and per-record order is n increasing.
func TestSource_Run_SurvivesKills(t *testing.T) {
	c := kafkatest.Real(t)
	if c == nil {
		c = kafkatest.NewFake(t)
	}
	bin := sfconnectBinary(t)
	for _, mode := range []connectorlib.DeliveryMode{connectorlib.DeliveryExactlyOnce, connectorlib.DeliveryAtLeastOnce} {
		t.Run(string(mode), func(t *testing.T) {
			res := runSourceCrash(t, c, bin, mode)
			t.Logf("%s on %s: %d changes, %d kills, %d records read, %d duplicates, %d missing, %d out of order, %d misrouted; generated in %s, drained in %s, verified in %s",
				mode, c.Kind, crashChanges, crashKills, res.records, res.duplicates, res.missing, res.outOfOrder, res.misrouted,
				res.generated.Round(time.Millisecond), res.drained.Round(time.Millisecond), res.verified.Round(time.Millisecond))
			if res.missing != 0 || res.outOfOrder != 0 || res.misrouted != 0 {
				t.Errorf("%s: %d missing, %d out of order per record, %d with a wrong record id or type", mode, res.missing, res.outOfOrder, res.misrouted)
			}
			if mode == connectorlib.DeliveryExactlyOnce && res.duplicates != 0 {
				t.Errorf("exactly_once: %d duplicates", res.duplicates)
			}
		})
	}
}

type crashResult struct {
	records, duplicates, missing, outOfOrder, misrouted int
	generated, drained, verified                        time.Duration
}

// killPoint is where one child was killed.
type killPoint struct {
	target, at int64 // output topic end offsets (summed) aimed at, and at the kill
	lived      time.Duration
}

func (k killPoint) String() string {
	return fmt.Sprintf("%d(≥%d, %s)", k.at, k.target, k.lived.Round(time.Millisecond))
}

func runSourceCrash(t *testing.T, c *kafkatest.Cluster, bin string, mode connectorlib.DeliveryMode) crashResult {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), crashBudget)
	defer cancel()
	sim, err := sfsim.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, sim.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	name := kafkatest.Topic(t, "crash")
	topic := name + ".Account" // SOURCE_TOPIC_TEMPLATE is <name>.{entity}
	env := []string{
		"SFCONNECT_CONNECTOR_NAME=" + name,
		"SFCONNECT_KAFKA_BROKERS=" + strings.Join(c.Seeds(), ","),
		"SFCONNECT_DELIVERY_MODE=" + string(mode),
		"SFCONNECT_SALESFORCE_LOGIN_URL=" + sim.URL(),
		"SFCONNECT_SALESFORCE_CLIENT_ID=" + sfsim.DefaultClientID,
		"SFCONNECT_SALESFORCE_CLIENT_SECRET=" + sfsim.DefaultClientSecret,
		"SFCONNECT_SALESFORCE_CA_FILE=" + ca,
		"SFCONNECT_SOURCE_CHANNELS=" + crashChannel,
		"SFCONNECT_SOURCE_PUBSUB_ENDPOINT=" + sim.GRPCAddr(),
		"SFCONNECT_SOURCE_INITIAL_REPLAY=earliest",
		"SFCONNECT_SOURCE_TOPIC_TEMPLATE=" + name + ".{entity}",
		"SFCONNECT_TOPIC_PARTITIONS=4",
		"SFCONNECT_LOG_FORMAT=text",
		"SFCONNECT_SOURCE_OFFSET_FLUSH_INTERVAL=50ms",
		"SFCONNECT_SOURCE_TRANSACTION_TIMEOUT=10s",
		"SFCONNECT_RESTART_BACKOFF_MAX=1s",
		"SFCONNECT_SHUTDOWN_TIMEOUT=20s",
	}
	// The output topic does not exist until the first child creates it: a
	// short metadata age lets the progress probe see it at once.
	adm := kadm.NewClient(c.Client(t, kgo.MetadataMinAge(10*time.Millisecond)))
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	// Kill points by the output topic's summed end offsets, between 2% and
	// 97% of the changes: throughout the run, none after it. End offsets
	// also count transaction markers, aborted records and duplicates, so
	// they run a little ahead of the distinct changes written.
	targets := make([]int64, crashKills)
	for i := range targets {
		targets[i] = crashChanges*2/100 + rng.Int64N(crashChanges*95/100)
	}
	slices.Sort(targets)
	t.Logf("kill points seed %d, targets %v", seed, targets)

	// The generator writes while the children run and are killed.
	ids := make([]string, crashRecords)
	genDone := make(chan struct{})
	var genErr error
	var generated time.Duration
	go func() {
		defer close(genDone)
		genErr = generateCrashChanges(ctx, sim, ids)
		generated = time.Since(start)
	}()
	genFinished := func() bool {
		select {
		case <-genDone:
			if genErr != nil {
				t.Fatalf("generator: %v", genErr)
			}
			return true
		default:
			return false
		}
	}

	var kills []killPoint
	for k, target := range targets {
		p := startSource(t, bin, append(env, "SFCONNECT_OPS_ADDR=127.0.0.1:0"))
		startAt := endOffsets(ctx, adm, topic)
		var at int64
		for {
			if p.exited() {
				t.Fatalf("child %d exited early (%v):\n%s", k, p.err, p.stderr.tail())
			}
			if ctx.Err() != nil {
				t.Fatalf("child %d: no progress to %d in time (at %d):\n%s", k, target, at, p.stderr.tail())
			}
			genFinished()
			// A child is killed once it wrote something itself, so the
			// kills do not all pile up at start-up.
			if at = endOffsets(ctx, adm, topic); at >= target && at > startAt {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		// A random delay past the observed point lands the kill anywhere
		// in the read / produce / commit cycle.
		time.Sleep(time.Duration(rng.Int64N(int64(20 * time.Millisecond))))
		p.kill()
		kills = append(kills, killPoint{target: target, at: at, lived: time.Since(p.started)})
	}
	t.Logf("%d kills at output end offsets (target, lifetime): %v", len(kills), kills)

	// The last child runs until the generator is done and every change's
	// position is stored, then stops on SIGTERM.
	opsAddr := freeAddr(t)
	p := startSource(t, bin, append(env, "SFCONNECT_OPS_ADDR="+opsAddr))
	select {
	case <-genDone:
		if genErr != nil {
			t.Fatalf("generator: %v", genErr)
		}
	case <-ctx.Done():
		t.Fatalf("generator did not finish in time")
	}
	last := sim.LatestReplayID()
	store := offsetstore.NewKafka(c.Client(t), c.Opts(), "sfconnect.offsets."+name+".0", name)
	for {
		if p.exited() {
			t.Fatalf("final child exited early (%v):\n%s", p.err, p.stderr.tail())
		}
		ps, err := store.Load(ctx)
		if err != nil && ctx.Err() == nil {
			t.Logf("load positions: %v", err) // the topic may not exist yet
		}
		if n, err := pubsub.DecodeReplayID(replayIDOf(ps[crashChannel])); err == nil && n == last {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the source did not reach replay id %d in time (positions %x):\n%s", last, ps, p.stderr.tail())
		}
		time.Sleep(100 * time.Millisecond)
	}
	drained := time.Since(start)
	waitReady(t, ctx, p, opsAddr)
	if code := p.terminate(t, 30*time.Second); code != 0 {
		t.Fatalf("final child exited %d after SIGTERM:\n%s", code, p.stderr.tail())
	}
	if !strings.Contains(p.stderr.String(), `msg=stopped`) {
		t.Errorf("final child did not log a clean stop:\n%s", p.stderr.tail())
	}

	res := verifyCrashOutput(t, ctx, c, adm, topic, ids, mode)
	res.generated, res.drained, res.verified = generated, drained, time.Since(start)
	if n := endOffsets(ctx, adm, "sfconnect.dlq."+name); n != 0 {
		t.Errorf("%d records on the dead-letter topic", n)
	}
	return res
}

// generateCrashChanges makes crashChanges changes in transactions of
// crashPerTx, paced over crashGenerateOver: first crashRecords creates,
// then updates. Change n goes to record ids[n%crashRecords] and sets
// NumberOfEmployees to n; consecutive changes of a transaction therefore
// differ and each is its own change event.
func generateCrashChanges(ctx context.Context, sim *sfsim.Sim, ids []string) error {
	start := time.Now()
	txs := crashChanges / crashPerTx
	for i := range txs {
		if d := time.Until(start.Add(crashGenerateOver * time.Duration(i) / time.Duration(txs))); d > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(d):
			}
		}
		err := sim.Transaction(func(tx *sfsim.Tx) error {
			for n := i * crashPerTx; n < (i+1)*crashPerTx; n++ {
				if n < crashRecords {
					id, err := tx.Create("Account", map[string]any{"Name": fmt.Sprintf("Crash %d", n), "NumberOfEmployees": float64(n)})
					if err != nil {
						return err
					}
					ids[n] = id
					continue
				}
				if err := tx.Update("Account", ids[n%crashRecords], map[string]any{"NumberOfEmployees": float64(n)}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("transaction %d: %w", i, err)
		}
	}
	if got := sim.LatestReplayID(); got != crashChanges {
		return fmt.Errorf("sfsim published %d events, want %d", got, crashChanges)
	}
	return nil
}

// verifyCrashOutput reads topic read_committed and checks every change:
// seen at least once (exactly once counted as duplicates otherwise), on
// the right record, and per record first seen in increasing order.
func verifyCrashOutput(t *testing.T, ctx context.Context, c *kafkatest.Cluster, adm *kadm.Client, topic string, ids []string, mode connectorlib.DeliveryMode) crashResult {
	t.Helper()
	var res crashResult
	seen := make([]int, crashChanges)
	lastSeen := map[string]int{} // per record id, the last n read
	firstNew := map[string]int{} // per record id, the highest n read so far
	replays := 0                 // times a record's n went back (at_least_once duplicates)
	err := kafkaio.ReadCommitted(ctx, adm, c.Opts(), topic, 30*time.Second, func(r *kgo.Record) error {
		res.records++
		var env struct {
			RecordID   *string        `json:"record_id"`
			ChangeType string         `json:"change_type"`
			Fields     map[string]any `json:"fields"`
		}
		if err := json.Unmarshal(r.Value, &env); err != nil {
			return fmt.Errorf("record %d/%d: %w: %s", r.Partition, r.Offset, err, r.Value)
		}
		f, ok := env.Fields["NumberOfEmployees"].(float64)
		n := int(f)
		if !ok || float64(n) != f || n < 0 || n >= crashChanges || env.RecordID == nil {
			return fmt.Errorf("record %d/%d: no change number: %s", r.Partition, r.Offset, r.Value)
		}
		id := *env.RecordID
		wantType := "UPDATE"
		if n < crashRecords {
			wantType = "CREATE"
		}
		if id != ids[n%crashRecords] || string(r.Key) != id || env.ChangeType != wantType {
			if res.misrouted++; res.misrouted <= 5 {
				t.Errorf("change %d: record %s key %s type %s, want record %s type %s", n, id, r.Key, env.ChangeType, ids[n%crashRecords], wantType)
			}
		}
		seen[n]++
		if last, ok := lastSeen[id]; ok && n <= last {
			// Going back is a replay: a duplicate (at_least_once) or an
			// order violation (exactly_once, where seen[n] > 1 also counts).
			if mode == connectorlib.DeliveryExactlyOnce && seen[n] == 1 {
				if res.outOfOrder++; res.outOfOrder <= 5 {
					t.Errorf("record %s: change %d after change %d", id, n, last)
				}
			}
			replays++
		}
		lastSeen[id] = n
		// Whatever the mode, a change seen for the first time must come
		// after every earlier change of its record: n > all n before.
		if top, ok := firstNew[id]; seen[n] == 1 && ok && n < top {
			if mode == connectorlib.DeliveryAtLeastOnce {
				if res.outOfOrder++; res.outOfOrder <= 5 {
					t.Errorf("record %s: change %d first seen after change %d", id, n, top)
				}
			}
		}
		firstNew[id] = max(firstNew[id], n)
		return nil
	})
	if err != nil {
		t.Fatalf("read %s: %v", topic, err)
	}
	var firstMissing []int
	for n, k := range seen {
		switch {
		case k == 0:
			res.missing++
			if len(firstMissing) < 10 {
				firstMissing = append(firstMissing, n)
			}
		case k > 1:
			res.duplicates += k - 1
		}
	}
	if res.missing > 0 {
		t.Logf("first missing changes: %v", firstMissing)
	}
	t.Logf("%s: %d records read, %d times a record's change number went back", mode, res.records, replays)
	return res
}

// endOffsets returns the sum of topic's end offsets (0 while it does not
// exist).
func endOffsets(ctx context.Context, adm *kadm.Client, topic string) int64 {
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil || ends.Error() != nil {
		return 0
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// waitReady waits until the child's /readyz answers 200: its runner has a
// session open, and SIGTERM is a graceful stop.
func waitReady(t testing.TB, ctx context.Context, p *childProc, opsAddr string) {
	t.Helper()
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for {
		resp, err := hc.Get("http://" + opsAddr + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(p.stderr.String(), "source runner started") {
				return
			}
		}
		if p.exited() || ctx.Err() != nil {
			t.Fatalf("child never became ready (%v):\n%s", p.err, p.stderr.tail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The sfconnect binary, built once per test binary run into a directory
// TestMain removes.
var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

// sfconnectBinary builds ./cmd/sfconnect (once) and returns its path.
func sfconnectBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		start := time.Now()
		var out []byte
		out, binErr = exec.Command("go", "env", "GOMOD").Output()
		root := filepath.Dir(strings.TrimSpace(string(out)))
		if binErr == nil && (root == "." || root == "") {
			binErr = errors.New("go env GOMOD: not in a module")
		}
		if binErr != nil {
			binErr = fmt.Errorf("find the module root: %w", binErr)
			return
		}
		if binDir, binErr = os.MkdirTemp("", "sfconnect-source-test-"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "sfconnect")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/sfconnect")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build ./cmd/sfconnect: %w\n%s", err, out)
			return
		}
		fmt.Fprintf(os.Stderr, "built %s in %s\n", binPath, time.Since(start).Round(time.Millisecond))
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// removeBinary deletes the built binary (TestMain).
func removeBinary() {
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
}

// childProc is a running `sfconnect source`.
type childProc struct {
	cmd     *exec.Cmd
	stderr  *logBuffer
	started time.Time
	done    chan struct{}
	err     error
}

// startSource runs `bin source` with env added to this process's
// environment (less any SFCONNECT_ variable of its own).
func startSource(t testing.TB, bin string, env []string) *childProc {
	t.Helper()
	cmd := exec.Command(bin, "source")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, connectorlib.EnvPrefix+"_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	p := &childProc{cmd: cmd, stderr: &logBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stderr, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s source: %v", bin, err)
	}
	p.started = time.Now()
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			p.kill()
		}
	})
	return p
}

func (p *childProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *childProc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// terminate sends SIGTERM and returns the exit code (-1 for a signal).
func (p *childProc) terminate(t testing.TB, within time.Duration) int {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(within):
		t.Fatalf("child did not stop within %s of SIGTERM:\n%s", within, p.stderr.tail())
	}
	return p.cmd.ProcessState.ExitCode()
}

// logBuffer collects a child's output, safe for a writer and a reader.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// tail returns the last lines of the output, for failure messages.
func (l *logBuffer) tail() string {
	s := l.String()
	lines := strings.Split(s, "\n")
	if len(lines) > 40 {
		lines = append([]string{fmt.Sprintf("[... %d lines]", len(lines)-40)}, lines[len(lines)-40:]...)
	}
	return strings.Join(lines, "\n")
}

// replayIDOf is the replay id of a stored channel position.
func replayIDOf(p connectorlib.Position) []byte {
	id, _ := source.ParsePosition(p)
	return id
}
