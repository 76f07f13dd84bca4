package deploy_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDockerignore_KeepsTheBuildInputs checks that .dockerignore excludes
// nothing the image's build stage compiles: every Go file and embedded
// file of the module's packages behind ./cmd/sfconnect and
// ./deploy/healthcheck, and go.mod and go.sum.
func TestDockerignore_KeepsTheBuildInputs(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, line := range strings.Split(string(raw), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			if strings.HasPrefix(line, "!") {
				t.Fatalf(".dockerignore: exception %q; this check does not model exceptions", line)
			}
			patterns = append(patterns, strings.TrimPrefix(filepath.Clean(line), "/"))
		}
	}

	cmd := exec.Command("go", "list", "-deps", "-json=Dir,Module,GoFiles,EmbedFiles", "./cmd/sfconnect", "./deploy/healthcheck")
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	inputs := []string{"go.mod", "go.sum"}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			Dir                 string
			Module              *struct{ Main bool }
			GoFiles, EmbedFiles []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if p.Module == nil || !p.Module.Main {
			continue // the standard library and downloaded modules
		}
		rel, err := filepath.Rel(root, p.Dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range append(p.GoFiles, p.EmbedFiles...) {
			inputs = append(inputs, filepath.Join(rel, f))
		}
	}
	if len(inputs) < 20 {
		t.Fatalf("only %d build inputs found; go list output changed?", len(inputs))
	}
	for _, in := range inputs {
		if p := ignoredBy(patterns, in); p != "" {
			t.Errorf("%s is a build input, but .dockerignore excludes it (%s)", in, p)
		}
	}
	// The check can fail: the patterns do exclude what they are for.
	for _, junk := range []string{".git/config", "bin/sfconnect", "test/node/node_modules/x/index.js", "source/source.test"} {
		if ignoredBy(patterns, junk) == "" {
			t.Errorf("%s is not excluded", junk)
		}
	}
}

// ignoredBy returns the pattern that excludes path (slash-separated,
// relative to the build context), matching it and each of its parent
// directories the way Docker does for patterns without exceptions.
func ignoredBy(patterns []string, path string) string {
	parts := strings.Split(filepath.ToSlash(path), "/")
	for _, p := range patterns {
		pp := strings.Split(filepath.ToSlash(p), "/")
		for n := 1; n <= len(parts); n++ {
			if matchSegments(pp, parts[:n]) {
				return p
			}
		}
	}
	return ""
}

func matchSegments(pattern, path []string) bool {
	if len(pattern) == 0 {
		return len(path) == 0
	}
	if pattern[0] == "**" {
		for i := 0; i <= len(path); i++ {
			if matchSegments(pattern[1:], path[i:]) {
				return true
			}
		}
		return false
	}
	if len(path) == 0 {
		return false
	}
	ok, err := filepath.Match(pattern[0], path[0])
	return err == nil && ok && matchSegments(pattern[1:], path[1:])
}
