package deploy_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// The subset of the Compose specification docker-compose.yml may use.
// Decoding is strict: a key outside these structs (a typo, or a feature
// nobody checked) fails the test.
type composeFile struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]struct {
		Driver string `yaml:"driver"`
	} `yaml:"volumes"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Build       *composeBuild     `yaml:"build"`
	Command     []string          `yaml:"command"`
	Entrypoint  []string          `yaml:"entrypoint"`
	Environment map[string]string `yaml:"environment"`
	Ports       []string          `yaml:"ports"`
	Volumes     []string          `yaml:"volumes"`
	NetworkMode string            `yaml:"network_mode"`
	Restart     string            `yaml:"restart"`
	Healthcheck *struct {
		Test        []string `yaml:"test"`
		Interval    string   `yaml:"interval"`
		Timeout     string   `yaml:"timeout"`
		Retries     int      `yaml:"retries"`
		StartPeriod string   `yaml:"start_period"`
	} `yaml:"healthcheck"`
	DependsOn map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
}

type composeBuild struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
}

// healthcheckBin is where the Dockerfile installs deploy/healthcheck.
const healthcheckBin = "/usr/local/bin/sfconnect-healthcheck"

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	var f composeFile
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return f
}

// pinnedImage reports whether ref names one image for good: by digest, or
// by a tag that carries a version number. Moving tags (latest, stable,
// nonroot, vnext-preview) have none.
var versionedTag = regexp.MustCompile(`[0-9]`)

func pinnedImage(ref string) error {
	if name, digest, ok := strings.Cut(ref, "@"); ok {
		if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(digest) {
			return fmt.Errorf("%s: malformed digest", ref)
		}
		_ = name
		return nil // the digest decides, whatever the tag says
	}
	i := strings.LastIndex(ref, ":")
	if i < 0 || i < strings.LastIndex(ref, "/") {
		return fmt.Errorf("%s: no tag (that is latest)", ref)
	}
	if tag := ref[i+1:]; tag == "latest" || !versionedTag.MatchString(tag) {
		return fmt.Errorf("%s: tag %q moves; pin a version or a digest", ref, tag)
	}
	return nil
}

func TestPinnedImage(t *testing.T) {
	for ref, ok := range map[string]bool{
		"docker.redpanda.com/redpandadata/redpanda:v26.1.13":                                                                true,
		"gcr.io/distroless/static-debian12:nonroot@sha256:d093aa3e30dbadd3efe1310db061a14da60299baff8450a17fe0ccc514a16639": true,
		"localhost:5000/x@sha256:d093aa3e30dbadd3efe1310db061a14da60299baff8450a17fe0ccc514a16639":                          true,
		"mcr.microsoft.com/cosmosdb/linux/azure-cosmos-emulator:vnext-EN20260907":                                           true,
		"mcr.microsoft.com/cosmosdb/linux/azure-cosmos-emulator:vnext-preview":                                              false,
		"mcr.microsoft.com/cosmosdb/linux/azure-cosmos-emulator:latest":                                                     false,
		"redpandadata/redpanda":                     false,
		"localhost:5000/redpanda":                   false,
		"gcr.io/distroless/static-debian12:nonroot": false,
		"x@sha256:1234":                             false,
	} {
		if err := pinnedImage(ref); (err == nil) != ok {
			t.Errorf("pinnedImage(%q) = %v, want ok=%v", ref, err, ok)
		}
	}
}

// The services the issue asks for; each must be in the file.
var composeServices = []string{"redpanda", "console", "cosmos", "sfsim", "source", "source-http", "sink-cosmos", "sink-salesforce"}

// TestCompose_Strict checks docker-compose.yml as far as possible without
// Docker: structure, images, ports, start order, and the configuration of
// every sfconnect service against the binary.
func TestCompose_Strict(t *testing.T) {
	f := loadCompose(t)
	vars := knownVars(t)
	paths := subcommands(t)
	dockerfile, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}

	for _, name := range composeServices {
		if _, ok := f.Services[name]; !ok {
			t.Errorf("service %s missing", name)
		}
	}
	hostPorts := map[string]string{}   // host ip:port -> service
	listening := map[string][]string{} // network namespace -> "port (who)"
	netns := func(name string) string {
		if owner, ok := strings.CutPrefix(f.Services[name].NetworkMode, "service:"); ok {
			return owner
		}
		return name
	}
	published := map[string][]int{} // network namespace -> published container ports
	for _, name := range sortedKeys(f.Services) {
		s := f.Services[name]
		t.Run(name, func(t *testing.T) {
			ours := s.Build != nil
			if ours {
				if s.Build.Context != "." || s.Build.Dockerfile != "Dockerfile" {
					t.Errorf("build %+v: want the repository's Dockerfile", *s.Build)
				}
				if s.Image != "sfconnect:local" {
					t.Errorf("image %q: the locally built image is sfconnect:local", s.Image)
				}
			} else if err := pinnedImage(s.Image); err != nil {
				t.Error(err)
			}

			// Ports: loopback only, host ports unique.
			if len(s.Ports) > 0 && s.NetworkMode != "" {
				t.Errorf("ports with network_mode %s: publish them on the namespace's owner", s.NetworkMode)
			}
			for _, p := range s.Ports {
				parts := strings.Split(p, ":")
				if len(parts) != 3 || parts[0] != "127.0.0.1" {
					t.Errorf("port %q: want 127.0.0.1:HOST:CONTAINER", p)
					continue
				}
				host := parts[0] + ":" + parts[1]
				if other, dup := hostPorts[host]; dup {
					t.Errorf("host port %s also published by %s", host, other)
				}
				hostPorts[host] = name
				cp, err := strconv.Atoi(parts[2])
				if err != nil {
					t.Errorf("port %q: container port: %v", p, err)
				}
				published[name] = append(published[name], cp)
			}

			// Start order: every dependency waits for health (or completion).
			for dep, d := range s.DependsOn {
				target, ok := f.Services[dep]
				switch {
				case !ok:
					t.Errorf("depends_on %s: no such service", dep)
				case d.Condition == "service_healthy" && target.Healthcheck == nil:
					t.Errorf("depends_on %s: service_healthy, but %s has no healthcheck", dep, dep)
				case d.Condition != "service_healthy" && d.Condition != "service_completed_successfully":
					t.Errorf("depends_on %s: condition %q; want service_healthy", dep, d.Condition)
				}
			}
			if owner, ok := strings.CutPrefix(s.NetworkMode, "service:"); ok {
				if _, dep := s.DependsOn[owner]; !dep {
					t.Errorf("network_mode %s without depends_on %s", s.NetworkMode, owner)
				}
			} else if s.NetworkMode != "" {
				t.Errorf("network_mode %q: only service:<name> is expected here", s.NetworkMode)
			}
			if hc := s.Healthcheck; hc != nil {
				if len(hc.Test) < 2 || (hc.Test[0] != "CMD" && hc.Test[0] != "CMD-SHELL") {
					t.Errorf("healthcheck test %q: want [CMD, ...] or [CMD-SHELL, ...]", hc.Test)
				}
				for _, d := range []string{hc.Interval, hc.Timeout, hc.StartPeriod} {
					if _, err := time.ParseDuration(d); d != "" && err != nil {
						t.Errorf("healthcheck duration %q: %v", d, err)
					}
				}
				if hc.Retries < 1 {
					t.Errorf("healthcheck retries %d", hc.Retries)
				}
			}

			for k := range s.Environment {
				if strings.HasPrefix(k, "SFCONNECT_") && !ours {
					t.Errorf("%s set on a service that does not run sfconnect", k)
				}
			}
			if !ours {
				return
			}
			// An sfconnect service: a real subcommand, variables the binary
			// reads, a health check the distroless image can run.
			cmd := commandPath(paths, s.Command)
			if cmd == "" {
				t.Fatalf("command %q is no sfconnect subcommand (%s)", s.Command, strings.Join(paths, ", "))
			}
			for k := range s.Environment {
				if _, ok := vars[k]; !ok {
					t.Errorf("environment %s: sfconnect does not read it", k)
				}
			}
			if hc := s.Healthcheck; hc == nil || hc.Test[0] != "CMD" || hc.Test[1] != healthcheckBin {
				t.Errorf("healthcheck: want [CMD, %s, URL] (the image has no shell)", healthcheckBin)
			}
			if !bytes.Contains(dockerfile, []byte(" "+healthcheckBin+"\n")) {
				t.Errorf("the Dockerfile does not install %s", healthcheckBin)
			}
			ns := netns(name)
			switch cmd {
			case "sim":
				for i, a := range s.Command {
					if (a == "-http" || a == "-grpc") && i+1 < len(s.Command) {
						listening[ns] = append(listening[ns], portOf(t, s.Command[i+1])+" ("+name+" "+a+")")
					}
				}
			default:
				addr, ok := s.Environment["SFCONNECT_OPS_ADDR"]
				if !ok {
					addr = ":9090" // the binary's default
				}
				listening[ns] = append(listening[ns], portOf(t, addr)+" ("+name+" ops)")
				if cmd == "source http" {
					addr, ok := s.Environment["SFCONNECT_HTTP_ADDR"]
					if !ok {
						addr = ":8443" // the binary's default
					}
					listening[ns] = append(listening[ns], portOf(t, addr)+" ("+name+" ingest)")
				}
			}
		})
	}

	// Within one network namespace no two processes listen on one port, and
	// what is published from an sfconnect namespace is something listening.
	for ns, ports := range listening {
		seen := map[string]string{}
		for _, p := range ports {
			port, who, _ := strings.Cut(p, " ")
			if other, dup := seen[port]; dup {
				t.Errorf("network namespace of %s: port %s used by %s and %s", ns, port, other, who)
			}
			seen[port] = who
		}
		for _, cp := range published[ns] {
			if _, ok := seen[strconv.Itoa(cp)]; !ok {
				t.Errorf("%s publishes container port %d, which nothing in its namespace listens on", ns, cp)
			}
		}
	}
}

// TestCompose_LoopPrevention checks that the Salesforce sink's client id,
// which it sends with every write, is one the source drops changes of:
// otherwise every web-app change written to Salesforce comes back as a
// Salesforce change.
func TestCompose_LoopPrevention(t *testing.T) {
	f := loadCompose(t)
	if err := loopPrevented(f.Services["source"].Environment, f.Services["sink-salesforce"].Environment); err != nil {
		t.Error(err)
	}
	// The check itself must be able to fail.
	if loopPrevented(map[string]string{"SFCONNECT_SOURCE_LOOP_CLIENT_IDS": "other"},
		map[string]string{"SFCONNECT_SINK_SALESFORCE_CLIENT_ID": "sfconnect-sink"}) == nil {
		t.Error("a mismatched client id passed the check")
	}
}

// loopPrevented reports whether the sink's explicitly set client id is in
// the source's SOURCE_LOOP_CLIENT_IDS.
func loopPrevented(source, sink map[string]string) error {
	id := sink["SFCONNECT_SINK_SALESFORCE_CLIENT_ID"]
	if id == "" {
		return errors.New("SFCONNECT_SINK_SALESFORCE_CLIENT_ID: set it explicitly, so that the source's loop list can name it")
	}
	ids := strings.Split(source["SFCONNECT_SOURCE_LOOP_CLIENT_IDS"], ",")
	for i := range ids {
		ids[i] = strings.TrimSpace(ids[i])
	}
	if !slices.Contains(ids, id) {
		return fmt.Errorf("the Salesforce sink writes as client %q, but the source's SFCONNECT_SOURCE_LOOP_CLIENT_IDS is %q: its writes would echo back", id, source["SFCONNECT_SOURCE_LOOP_CLIENT_IDS"])
	}
	return nil
}

// TestCompose_LocalOnlyShortcuts checks that the compose file's local-only
// shortcuts stay local: the emulator's public key and skipping TLS
// verification are used only against the emulator service of this file.
func TestCompose_LocalOnlyShortcuts(t *testing.T) {
	f := loadCompose(t)
	for _, name := range sortedKeys(f.Services) {
		env := f.Services[name].Environment
		skip := env["SFCONNECT_COSMOS_INSECURE_SKIP_TLS_VERIFY"] == "true"
		if (skip || env["SFCONNECT_COSMOS_KEY"] != "") && !strings.HasPrefix(env["SFCONNECT_COSMOS_ENDPOINT"], "https://cosmos:") {
			t.Errorf("%s: the emulator's key or skipped TLS verification against %q; only the cosmos service may get them",
				name, env["SFCONNECT_COSMOS_ENDPOINT"])
		}
		for _, k := range []string{"SFCONNECT_KAFKA_TLS_INSECURE_SKIP_VERIFY", "SFCONNECT_SALESFORCE_TLS_INSECURE_SKIP_VERIFY"} {
			if v, ok := env[k]; ok && v != "false" {
				t.Errorf("%s: %s=%s; nothing in this stack needs it", name, k, v)
			}
		}
	}
}

// TestCompose_ConfigAccepted runs each sfconnect service's command with its
// environment and checks that the binary accepts the configuration
// (values, not only names). sfsim gets its flags with loopback listen
// addresses instead of the container's 0.0.0.0.
func TestCompose_ConfigAccepted(t *testing.T) {
	f := loadCompose(t)
	paths := subcommands(t)
	for _, name := range sortedKeys(f.Services) {
		s := f.Services[name]
		if s.Build == nil {
			continue
		}
		t.Run(name, func(t *testing.T) {
			args := slices.Clone(s.Command)
			if commandPath(paths, args) == "sim" {
				for i := range args {
					if (args[i] == "-http" || args[i] == "-grpc") && i+1 < len(args) {
						args[i+1] = "127.0.0.1:0"
					}
				}
				if err := checkSim(t, args); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err := checkConfig(t, args, s.Environment); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// checkSim starts `sfconnect sim` with args, waits for it to say it is
// ready, and stops it.
func checkSim(t *testing.T, args []string) error {
	t.Helper()
	c := startChild(t, execCommand(t, args...))
	defer c.stop()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && !c.exited() {
		if strings.Contains(c.out.String(), "sfsim ready") {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("sfconnect %s did not become ready (%v):\n%s", strings.Join(args, " "), c.err, c.out.String())
}

func portOf(t *testing.T, addr string) string {
	t.Helper()
	i := strings.LastIndex(addr, ":")
	if i < 0 {
		t.Errorf("address %q has no port", addr)
		return addr
	}
	return addr[i+1:]
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TestDockerfile checks the image recipe: pinned bases, a static binary, a
// distroless non-root runtime, and the health check binary compose uses.
func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var froms []string
	var user, entrypoint string
	builds := 0
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "FROM":
			froms = append(froms, f[1])
		case "USER":
			user = f[1]
		case "ENTRYPOINT":
			entrypoint = strings.Join(f[1:], " ")
		case "RUN":
			if strings.Contains(line, "go build") {
				builds++
				if !strings.Contains(line, "CGO_ENABLED=0") {
					t.Errorf("%q: builds without CGO_ENABLED=0 (distroless/static has no libc)", line)
				}
			}
		}
	}
	if len(froms) < 2 {
		t.Fatalf("FROM lines %q: want a build stage and a runtime stage", froms)
	}
	for _, ref := range froms {
		if err := pinnedImage(ref); err != nil {
			t.Error(err)
		}
	}
	if final := froms[len(froms)-1]; !strings.HasPrefix(final, "gcr.io/distroless/static") || !strings.Contains(final, ":nonroot@sha256:") {
		t.Errorf("runtime stage %s: want distroless/static, nonroot, by digest", final)
	}
	if builds == 0 {
		t.Error("no go build in the Dockerfile")
	}
	uid, _, _ := strings.Cut(user, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("USER %q: want a numeric non-root uid (Kubernetes verifies runAsNonRoot only for numeric users)", user)
	}
	if entrypoint != `["/usr/local/bin/sfconnect"]` {
		t.Errorf("ENTRYPOINT %s", entrypoint)
	}
	for _, want := range []string{"/out/sfconnect /usr/local/bin/sfconnect\n", "./deploy/healthcheck", " " + healthcheckBin + "\n"} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}
