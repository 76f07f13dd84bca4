package deploy_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// The Prometheus Operator's resources, as far as the manifests use them.
// Their Go types would pull in the operator's module and its Kubernetes
// dependencies; these minimal structs decode strictly all the same.
type serviceMonitor struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Spec       struct {
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector *struct {
			Any        bool     `json:"any,omitempty"`
			MatchNames []string `json:"matchNames,omitempty"`
		} `json:"namespaceSelector,omitempty"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path,omitempty"`
			Scheme        string `json:"scheme,omitempty"`
			Interval      string `json:"interval,omitempty"`
			ScrapeTimeout string `json:"scrapeTimeout,omitempty"`
		} `json:"endpoints"`
	} `json:"spec"`
}

type prometheusRule struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Spec       ruleFile          `json:"spec"`
}

// ruleFile is a Prometheus rule file (deploy/prometheus), which is also a
// PrometheusRule's spec.
type ruleFile struct {
	Groups []struct {
		Name     string `json:"name"`
		Interval string `json:"interval,omitempty"`
		Rules    []struct {
			Alert       string            `json:"alert"`
			Expr        string            `json:"expr"`
			For         string            `json:"for,omitempty"`
			Labels      map[string]string `json:"labels,omitempty"`
			Annotations map[string]string `json:"annotations,omitempty"`
		} `json:"rules"`
	} `json:"groups"`
}

// build is one overlay's output, decoded.
type build struct {
	deployments     []appsv1.Deployment
	services        []corev1.Service
	configMaps      map[string]corev1.ConfigMap
	pdbs            []policyv1.PodDisruptionBudget
	serviceMonitors []serviceMonitor
	rules           []prometheusRule
	serviceAccounts []corev1.ServiceAccount
}

// buildOverlay runs kustomize on dir and decodes every object strictly into
// its Kubernetes type: an unknown or misplaced field fails.
func buildOverlay(t *testing.T, dir string) build {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	b := build{configMaps: map[string]corev1.ConfigMap{}}
	for _, r := range m.Resources() {
		raw, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		kind, apiVersion := r.GetKind(), r.GetApiVersion()
		into := func(want string, v any) {
			if apiVersion != want {
				t.Errorf("%s %s: apiVersion %s, want %s", kind, r.GetName(), apiVersion, want)
			}
			if err := yaml.UnmarshalStrict(raw, v); err != nil {
				t.Errorf("%s %s: %v", kind, r.GetName(), err)
			}
		}
		switch kind {
		case "Deployment":
			var d appsv1.Deployment
			into("apps/v1", &d)
			b.deployments = append(b.deployments, d)
		case "Service":
			var s corev1.Service
			into("v1", &s)
			b.services = append(b.services, s)
		case "ConfigMap":
			var c corev1.ConfigMap
			into("v1", &c)
			b.configMaps[c.Name] = c
		case "ServiceAccount":
			var s corev1.ServiceAccount
			into("v1", &s)
			b.serviceAccounts = append(b.serviceAccounts, s)
		case "PodDisruptionBudget":
			var p policyv1.PodDisruptionBudget
			into("policy/v1", &p)
			b.pdbs = append(b.pdbs, p)
		case "ServiceMonitor":
			var s serviceMonitor
			into("monitoring.coreos.com/v1", &s)
			b.serviceMonitors = append(b.serviceMonitors, s)
		case "PrometheusRule":
			var p prometheusRule
			into("monitoring.coreos.com/v1", &p)
			b.rules = append(b.rules, p)
		case "Secret":
			t.Errorf("Secret %s in the build: secrets are referenced, never written in the manifests", r.GetName())
		default:
			t.Errorf("%s %s: a kind this test does not check", kind, r.GetName())
		}
		if r.GetName() == "" {
			t.Errorf("%s without a name", kind)
		}
	}
	return b
}

// The overlays and what each must configure, beyond the base.
var overlays = map[string]struct {
	fromSecret []string          // variables every connector takes from a Secret
	values     map[string]string // variables every connector has, with these values
	absent     []string          // variables no connector may have
	source     map[string]string // the source's own values
}{
	"redpanda": {
		fromSecret: []string{"SFCONNECT_KAFKA_SASL_USERNAME", "SFCONNECT_KAFKA_SASL_PASSWORD"},
		values:     map[string]string{"SFCONNECT_KAFKA_TLS_ENABLED": "true", "SFCONNECT_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512"},
		absent:     []string{"SFCONNECT_KAFKA_EVENTHUBS_CONNECTION_STRING"},
		source:     map[string]string{"SFCONNECT_DELIVERY_MODE": "exactly_once"},
	},
	"eventhubs": {
		fromSecret: []string{"SFCONNECT_KAFKA_EVENTHUBS_CONNECTION_STRING"},
		absent:     []string{"SFCONNECT_KAFKA_BROKERS", "SFCONNECT_KAFKA_SASL_MECHANISM"},
		source:     map[string]string{"SFCONNECT_DELIVERY_MODE": "at_least_once"},
	},
}

// TestK8s_Overlays builds every overlay and checks what it deploys.
func TestK8s_Overlays(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("k8s", "overlays", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) != len(overlays) {
		t.Errorf("overlays %q; this test knows %d", dirs, len(overlays))
	}
	vars := knownVars(t)
	paths := subcommands(t)
	for _, dir := range dirs {
		name := filepath.Base(dir)
		want, ok := overlays[name]
		if !ok {
			t.Errorf("overlay %s: add what it must configure to this test", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			b := buildOverlay(t, dir)
			for _, cm := range b.configMaps {
				for k, v := range cm.Data {
					if vars[k].Secret && v != "" {
						t.Errorf("ConfigMap %s: %s is a secret; take it from a Secret (secretKeyRef)", cm.Name, k)
					}
				}
			}
			commands := map[string]bool{}
			envOf := map[string]map[string]string{} // command -> resolved literal values
			for _, d := range b.deployments {
				t.Run(d.Name, func(t *testing.T) {
					env := checkDeployment(t, b, d, vars)
					c := d.Spec.Template.Spec.Containers[0]
					cmd := commandPath(paths, c.Args)
					commands[cmd] = true
					envOf[cmd] = map[string]string{}
					for k, e := range env {
						envOf[cmd][k] = e.value
					}
					for _, v := range want.fromSecret {
						if e := env[v]; e.secretRef == "" {
							t.Errorf("%s: want it from a Secret", v)
						}
					}
					// TLS verification stays on in a deployment; skipping it
					// is for the local compose emulator only.
					for k, e := range env {
						if strings.Contains(k, "INSECURE_SKIP") && e.value != "" && e.value != "false" {
							t.Errorf("%s=%s: a deployment never skips TLS verification", k, e.value)
						}
					}
					for k, v := range want.values {
						if got := env[k].value; got != v {
							t.Errorf("%s = %q, want %q", k, got, v)
						}
					}
					for _, k := range want.absent {
						if _, ok := env[k]; ok {
							t.Errorf("%s set; this overlay must not set it", k)
						}
					}
					if cmd == "source http" {
						checkIngestService(t, b, d, env)
					}
					if cmd == "source" || cmd == "source http" {
						for k, v := range want.source {
							if got := env[k].value; got != v {
								t.Errorf("%s = %q, want %q", k, got, v)
							}
						}
					}
				})
			}
			for _, cmd := range []string{"source", "source http", "sink cosmos", "sink salesforce"} {
				if !commands[cmd] {
					t.Errorf("no Deployment runs %q", cmd)
				}
			}
			if err := loopPrevented(envOf["source"], envOf["sink salesforce"]); err != nil {
				t.Error(err)
			}
			checkDisruptionBudgets(t, b)
			checkScraping(t, b)
			checkRulesAndDashboard(t, b)
		})
	}
}

// envVar is one resolved container variable.
type envVar struct {
	value     string // literal or from a ConfigMap
	secretRef string // "secret/key" when it comes from a Secret
}

// checkDeployment checks one connector Deployment and returns its
// container's resolved environment.
func checkDeployment(t *testing.T, b build, d appsv1.Deployment, vars map[string]configVar) map[string]envVar {
	t.Helper()
	spec := d.Spec.Template.Spec
	if d.Spec.Selector == nil {
		t.Fatal("no selector")
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("selector %v does not select the pod template's labels %v (%v)", d.Spec.Selector, d.Spec.Template.Labels, err)
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers; want the connector alone", len(spec.Containers))
	}
	c := spec.Containers[0]
	if c.Name == "" || c.Image == "" {
		t.Fatalf("container name %q image %q", c.Name, c.Image)
	}
	if err := pinnedImage(c.Image); err != nil {
		t.Error(err)
	}

	// Security: non-root, read-only root, no privilege escalation, no
	// capabilities, no API token.
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Error("pod securityContext: want runAsNonRoot and a non-zero runAsUser")
	}
	csc := c.SecurityContext
	if csc == nil || csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem {
		t.Error("container securityContext: want readOnlyRootFilesystem")
	}
	if csc == nil || csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
		t.Error("container securityContext: want allowPrivilegeEscalation: false")
	}
	if csc == nil || csc.Capabilities == nil || len(csc.Capabilities.Drop) != 1 || csc.Capabilities.Drop[0] != "ALL" {
		t.Error("container securityContext: want capabilities drop [ALL]")
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Error("automountServiceAccountToken: want false (the connectors do not use the API)")
	}

	// Resources.
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if q, ok := c.Resources.Requests[r]; !ok || q.IsZero() {
			t.Errorf("resources.requests.%s not set", r)
		}
	}
	if q, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok || q.IsZero() {
		t.Error("resources.limits.memory not set")
	}

	// Environment: every variable one the binary reads; secrets only by
	// reference.
	env := map[string]envVar{}
	for _, ef := range c.EnvFrom {
		if ef.SecretRef != nil {
			t.Errorf("envFrom secretRef %s: the variable names in a Secret cannot be checked; use env with secretKeyRef", ef.SecretRef.Name)
			continue
		}
		if ef.ConfigMapRef == nil || ef.Prefix != "" {
			t.Errorf("envFrom %+v: want a configMapRef without prefix", ef)
			continue
		}
		cm, ok := b.configMaps[ef.ConfigMapRef.Name]
		if !ok {
			t.Errorf("envFrom: ConfigMap %s is not in the build", ef.ConfigMapRef.Name)
			continue
		}
		if len(cm.BinaryData) > 0 {
			t.Errorf("ConfigMap %s: binaryData in an environment ConfigMap", cm.Name)
		}
		for k, v := range cm.Data {
			env[k] = envVar{value: v}
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = envVar{value: e.Value}
		case e.ValueFrom.SecretKeyRef != nil:
			env[e.Name] = envVar{secretRef: e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key}
		case e.ValueFrom.ConfigMapKeyRef != nil:
			cm, ok := b.configMaps[e.ValueFrom.ConfigMapKeyRef.Name]
			v, found := cm.Data[e.ValueFrom.ConfigMapKeyRef.Key]
			if !ok || !found {
				t.Errorf("env %s: ConfigMap key %s/%s not in the build", e.Name, e.ValueFrom.ConfigMapKeyRef.Name, e.ValueFrom.ConfigMapKeyRef.Key)
			}
			env[e.Name] = envVar{value: v}
		default:
			t.Errorf("env %s: only literal values, ConfigMap and Secret keys are expected", e.Name)
		}
	}
	for k, e := range env {
		v, ok := vars[k]
		switch {
		case !ok:
			t.Errorf("environment %s: sfconnect does not read it", k)
		case v.Secret && e.secretRef == "":
			t.Errorf("environment %s: a secret, set in plain text; take it from a Secret (secretKeyRef)", k)
		}
	}

	// Operations port and probes.
	opsAddr := ":9090" // the binary's default
	if e, ok := env["SFCONNECT_OPS_ADDR"]; ok {
		opsAddr = e.value
	}
	opsPort, err := strconv.Atoi(opsAddr[strings.LastIndex(opsAddr, ":")+1:])
	if err != nil {
		t.Fatalf("SFCONNECT_OPS_ADDR %q: %v", opsAddr, err)
	}
	var named bool
	for _, p := range c.Ports {
		if p.Name == "ops" {
			named = true
			if int(p.ContainerPort) != opsPort {
				t.Errorf("port ops = %d, but the operations server listens on %d", p.ContainerPort, opsPort)
			}
		}
	}
	if !named {
		t.Error("no container port named ops")
	}
	probe := func(kind string, p *corev1.Probe, path string) {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s: want an httpGet probe on %s", kind, path)
			return
		}
		if p.HTTPGet.Path != path || (p.HTTPGet.Port.String() != "ops" && p.HTTPGet.Port.IntValue() != opsPort) {
			t.Errorf("%s: httpGet %s on port %s, want %s on ops", kind, p.HTTPGet.Path, p.HTTPGet.Port.String(), path)
		}
	}
	probe("livenessProbe", c.LivenessProbe, "/healthz")
	probe("readinessProbe", c.ReadinessProbe, "/readyz")

	// Shutdown: the kubelet waits longer than the binary drains.
	drain := 30 * time.Second // SFCONNECT_SHUTDOWN_TIMEOUT's default
	if e, ok := env["SFCONNECT_SHUTDOWN_TIMEOUT"]; ok {
		if drain, err = time.ParseDuration(e.value); err != nil {
			t.Errorf("SFCONNECT_SHUTDOWN_TIMEOUT: %v", err)
		}
	}
	if g := spec.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second <= drain {
		t.Errorf("terminationGracePeriodSeconds must exceed the shutdown timeout %s", drain)
	}

	// Volumes: mounts name declared volumes; secret volumes are references.
	declared := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		declared[v.Name] = v
	}
	for _, m := range c.VolumeMounts {
		if _, ok := declared[m.Name]; !ok {
			t.Errorf("volumeMount %s: no such volume", m.Name)
		}
	}

	// Sources (the streaming source and the HTTP ingest source) write
	// through one transactional id per stream group (see base/source.yaml):
	// one writer, never surged, or the replicas fence each other.
	if len(c.Args) > 0 && c.Args[0] == "source" {
		if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
			t.Errorf("%s: want replicas 1 and strategy Recreate", strings.Join(c.Args, " "))
		}
	}

	// Finally the binary itself loads this configuration.
	if err := checkConfig(t, c.Args, resolveForCheck(t, env, c.VolumeMounts, declared)); err != nil {
		t.Error(err)
	}
	return env
}

// resolveForCheck turns a container's environment into values a local run
// can load: secret references get stand-in values, and files mounted from
// Secrets (CA certificates) are stand-in files under a temporary directory.
func resolveForCheck(t *testing.T, env map[string]envVar, mounts []corev1.VolumeMount, volumes map[string]corev1.Volume) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k, e := range env {
		switch {
		case e.secretRef == "":
			out[k] = e.value
		case strings.HasSuffix(e.secretRef, "/account-key"):
			// A Cosmos DB account key is base64.
			out[k] = "c3RhbmQtaW4tZm9yLWEtY29zbW9zLWtleQ=="
		case strings.HasSuffix(e.secretRef, "/connection-string"):
			out[k] = "Endpoint=sb://sfconnect-check.servicebus.windows.net/;SharedAccessKeyName=check;SharedAccessKey=Y2hlY2s="
		default:
			out[k] = "stand-in-for-" + e.secretRef
		}
	}
	for _, m := range mounts {
		v := volumes[m.Name]
		if v.Secret == nil {
			continue
		}
		dir := t.TempDir()
		for _, item := range v.Secret.Items {
			if err := os.WriteFile(filepath.Join(dir, item.Path), selfSignedPEM(t), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		for k, val := range out {
			if rest, ok := strings.CutPrefix(val, m.MountPath+"/"); ok {
				out[k] = filepath.Join(dir, rest)
			}
		}
	}
	return out
}

// selfSignedPEM returns a fresh self-signed certificate, standing in for a
// CA file mounted from a Secret.
func selfSignedPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sfconnect deploy check"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// checkIngestService: the ingest source's container declares the port its
// endpoint listens on (SFCONNECT_HTTP_ADDR), and a Service other than the
// operations Service routes to it, so that Salesforce's calls can reach it.
func checkIngestService(t *testing.T, b build, d appsv1.Deployment, env map[string]envVar) {
	t.Helper()
	addr := ":8443" // the binary's default
	if e, ok := env["SFCONNECT_HTTP_ADDR"]; ok {
		addr = e.value
	}
	port, err := strconv.Atoi(addr[strings.LastIndex(addr, ":")+1:])
	if err != nil {
		t.Fatalf("SFCONNECT_HTTP_ADDR %q: %v", addr, err)
	}
	var name string
	for _, p := range d.Spec.Template.Spec.Containers[0].Ports {
		if int(p.ContainerPort) == port {
			name = p.Name
		}
	}
	if name == "" {
		t.Fatalf("no container port %d (SFCONNECT_HTTP_ADDR %s)", port, addr)
	}
	for _, svc := range b.services {
		if len(svc.Spec.Selector) == 0 || !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
			continue
		}
		for _, sp := range svc.Spec.Ports {
			if sp.TargetPort.String() == name || sp.TargetPort.IntValue() == port {
				return
			}
		}
	}
	t.Errorf("no Service routes to the ingest endpoint (container port %s, %d)", name, port)
}

// checkDisruptionBudgets: exactly one PodDisruptionBudget covers each
// Deployment's pods.
func checkDisruptionBudgets(t *testing.T, b build) {
	t.Helper()
	for _, p := range b.pdbs {
		if (p.Spec.MinAvailable == nil) == (p.Spec.MaxUnavailable == nil) {
			t.Errorf("PodDisruptionBudget %s: want exactly one of minAvailable, maxUnavailable", p.Name)
		}
	}
	for _, d := range b.deployments {
		n := 0
		for _, p := range b.pdbs {
			sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
			if err == nil && !sel.Empty() && sel.Matches(labels.Set(d.Spec.Template.Labels)) {
				n++
				if replicas := d.Spec.Replicas; p.Spec.MinAvailable != nil && replicas != nil && p.Spec.MinAvailable.IntValue() >= int(*replicas) {
					t.Errorf("PodDisruptionBudget %s: minAvailable %s of %d replicas blocks every drain", p.Name, p.Spec.MinAvailable.String(), *replicas)
				}
			}
		}
		if n != 1 {
			t.Errorf("Deployment %s: covered by %d PodDisruptionBudgets, want 1", d.Name, n)
		}
	}
}

// checkScraping: a Service exposes every connector pod's ops port and a
// ServiceMonitor scrapes /metrics through it.
func checkScraping(t *testing.T, b build) {
	t.Helper()
	if len(b.serviceMonitors) != 1 {
		t.Fatalf("%d ServiceMonitors, want 1", len(b.serviceMonitors))
	}
	sm := b.serviceMonitors[0]
	smSel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
	if err != nil || smSel.Empty() {
		t.Fatalf("ServiceMonitor %s: selector %v (%v)", sm.Metadata.Name, sm.Spec.Selector, err)
	}
	if len(sm.Spec.Endpoints) == 0 {
		t.Fatalf("ServiceMonitor %s: no endpoints", sm.Metadata.Name)
	}
	var svc *corev1.Service
	for i, s := range b.services {
		if smSel.Matches(labels.Set(s.Labels)) {
			if svc != nil {
				t.Errorf("ServiceMonitor selects Services %s and %s", svc.Name, s.Name)
			}
			svc = &b.services[i]
		}
	}
	if svc == nil {
		t.Fatal("the ServiceMonitor selects no Service")
	}
	for _, ep := range sm.Spec.Endpoints {
		if ep.Path != "/metrics" {
			t.Errorf("ServiceMonitor endpoint path %q, want /metrics", ep.Path)
		}
		found := false
		for _, p := range svc.Spec.Ports {
			if p.Name == ep.Port {
				found = p.TargetPort.String() == "ops"
			}
		}
		if !found {
			t.Errorf("ServiceMonitor endpoint port %q: Service %s has no such port targeting ops", ep.Port, svc.Name)
		}
	}
	for _, d := range b.deployments {
		if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) || len(svc.Spec.Selector) == 0 {
			t.Errorf("Service %s does not select the pods of %s", svc.Name, d.Name)
		}
	}
}

// checkRulesAndDashboard: the PrometheusRule carries exactly the rule file's
// groups, and the dashboard ConfigMap exactly the dashboard.
func checkRulesAndDashboard(t *testing.T, b build) {
	t.Helper()
	if len(b.rules) != 1 {
		t.Fatalf("%d PrometheusRules, want 1", len(b.rules))
	}
	if file := loadRuleFile(t); !reflect.DeepEqual(b.rules[0].Spec, file) {
		t.Error("PrometheusRule spec differs from deploy/prometheus/sfconnect.rules.yaml; keep them equal")
	}
	want, err := os.ReadFile(filepath.Join("grafana", "sfconnect.json"))
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, cm := range b.configMaps {
		if got, ok := cm.Data["sfconnect.json"]; ok {
			found = true
			if got != string(want) || cm.Labels["grafana_dashboard"] != "1" {
				t.Errorf("ConfigMap %s: want grafana/sfconnect.json labelled grafana_dashboard=1", cm.Name)
			}
		}
	}
	if !found {
		t.Error("no ConfigMap carries the Grafana dashboard")
	}
}

// loadRuleFile decodes deploy/prometheus/sfconnect.rules.yaml strictly.
func loadRuleFile(t *testing.T) ruleFile {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("prometheus", "sfconnect.rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	if err := yaml.UnmarshalStrict(raw, &f); err != nil {
		t.Fatalf("sfconnect.rules.yaml: %v", err)
	}
	return f
}
