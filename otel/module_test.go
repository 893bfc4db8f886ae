package safemapotel_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// otelModulePrefix is the path prefix of every OpenTelemetry module.
const otelModulePrefix = "go.opentelemetry.io/"

// TestCoreAndRedismapModules_DoNotRequireOpenTelemetry checks what this
// module exists for: the library's module and redismap's stay free of
// OpenTelemetry. Neither go.mod requires an OpenTelemetry module, neither
// go.sum holds one (so none is in their module graphs), and no package of
// either imports one. It runs in a checkout of the repository, where the
// other modules sit beside this one.
func TestCoreAndRedismapModules_DoNotRequireOpenTelemetry(t *testing.T) {
	if _, err := os.Stat(filepath.Join("..", "go.work")); err != nil {
		t.Skip("not a checkout of the repository: the other modules are not beside this one")
	}
	gocmd, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("go command not found: %v", err)
	}
	for _, dir := range []string{"..", filepath.Join("..", "redismap")} {
		cmd := exec.Command(gocmd, "mod", "edit", "-json")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go mod edit -json in %s: %v", dir, err)
		}
		var mf struct {
			Module  struct{ Path string }
			Require []struct{ Path string }
		}
		if err := json.Unmarshal(out, &mf); err != nil {
			t.Fatal(err)
		}
		for _, r := range mf.Require {
			if strings.HasPrefix(r.Path, otelModulePrefix) {
				t.Errorf("%s (%s/go.mod) requires %s; OpenTelemetry belongs in the otel module", mf.Module.Path, dir, r.Path)
			}
		}
		if sum, err := os.ReadFile(filepath.Join(dir, "go.sum")); err == nil && strings.Contains(string(sum), otelModulePrefix) {
			t.Errorf("%s/go.sum holds an OpenTelemetry module: one is in %s's module graph", dir, mf.Module.Path)
		}
		// Its packages, tests included, import none (resolved through the
		// workspace, where redismap finds the library).
		list := exec.Command(gocmd, "list", "-deps", "-test", "-f", "{{.ImportPath}}", "./...")
		list.Dir = dir
		out, err = list.Output()
		if err != nil {
			t.Fatalf("go list -deps -test ./... in %s: %v", dir, err)
		}
		for _, pkg := range strings.Fields(string(out)) {
			if strings.HasPrefix(pkg, otelModulePrefix) {
				t.Errorf("a package of %s imports %s", mf.Module.Path, pkg)
			}
		}
	}
}
