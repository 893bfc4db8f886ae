package safemap_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// These tests check what a user of the library downloads: a module that
// needs nothing but the standard library and builds on the oldest Go
// release it claims. They run the go command, as a user would.

// rootImportPath is the import path of the root package.
const rootImportPath = "github.com/safemap-go/safemap"

// oldestGo is the go directive of the root module: the oldest Go release
// whose language and standard library the root package may use.
const oldestGo = "1.24"

// goCommand returns the go command, skipping the test if there is none.
func goCommand(t *testing.T) string {
	t.Helper()
	gocmd, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("go command not found: %v", err)
	}
	return gocmd
}

// run runs the go command with args in dir, with extra environment
// variables, and returns its standard output.
func run(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(goCommand(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("go %s (in %s): %v\n%s%s", strings.Join(args, " "), dir, err, out, stderr)
	}
	return string(out)
}

// modFile is the part of `go mod edit -json` these tests read.
type modFile struct {
	Module  struct{ Path string }
	Go      string
	Require []struct {
		Path     string
		Indirect bool
	}
	Replace []struct{ Old struct{ Path string } }
}

func readModFile(t *testing.T, dir string) modFile {
	t.Helper()
	var mf modFile
	out := run(t, dir, []string{"GOWORK=off"}, "mod", "edit", "-json")
	if err := json.Unmarshal([]byte(out), &mf); err != nil {
		t.Fatalf("go mod edit -json in %s: %v", dir, err)
	}
	return mf
}

func TestRootPackage_ImportsOnlyTheStandardLibrary(t *testing.T) {
	out := run(t, ".", []string{"GOWORK=off"}, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".")
	sawRoot := false
	var foreign []string
	for _, path := range strings.Fields(out) {
		switch {
		case path == rootImportPath:
			sawRoot = true
		case strings.HasPrefix(path, rootImportPath+"/"):
			// A package of this module; go list lists its imports too.
		default:
			foreign = append(foreign, path)
		}
	}
	if !sawRoot {
		t.Fatalf("go list -deps . did not list %s itself; got %q", rootImportPath, out)
	}
	if len(foreign) > 0 {
		t.Errorf("got non-standard imports %v; want none", foreign)
	}
}

func TestRootModule_ClaimsTheOldestGoAndRequiresOnlyTestDependencies(t *testing.T) {
	mf := readModFile(t, ".")
	if mf.Module.Path != rootImportPath {
		t.Fatalf("module path %q; want %q", mf.Module.Path, rootImportPath)
	}
	if mf.Go != oldestGo {
		t.Errorf("go directive %q; want %q", mf.Go, oldestGo)
	}
	testOnly := []string{"github.com/anishathalye/porcupine"} // the linearizability checker
	for _, r := range mf.Require {
		if !slices.Contains(testOnly, r.Path) {
			t.Errorf("the root module requires %s; want only the test dependencies %v (tools, peers and clients belong in modules of their own)", r.Path, testOnly)
		}
	}
	if len(mf.Replace) > 0 {
		t.Errorf("the root module has replace directives %v; want none", mf.Replace)
	}
}

// TestConsumerModule_OnTheOldestGo_RequiresOnlySafemap builds what a new
// user writes: a module on the oldest supported Go that imports the root
// package. go mod tidy must leave its go line alone and require nothing but
// safemap, and the build and vet must pass with GOTOOLCHAIN=local. This
// machine's toolchain may be newer than oldestGo, so the check of the
// root package against that release is the compiler's -lang (set by each
// module's go line) and vet's stdversion analyzer, which reports any use of
// a standard-library symbol newer than the go line of the file's module.
func TestConsumerModule_OnTheOldestGo_RequiresOnlySafemap(t *testing.T) {
	mainGo := `package main

import (
	"context"
	"fmt"

	"github.com/safemap-go/safemap"
)

func main() {
	m := safemap.New[string, int]()
	v, _ := m.LoadOrCompute("a", func() int { return 1 })
	w, _, err := m.LoadOrTryCompute(context.Background(), "b", func(context.Context) (int, error) { return 2, nil })
	fmt.Println(v, w, err)
}
`
	dir := consumerModule(t, mainGo)
	env := consumerEnv
	run(t, dir, env, "mod", "tidy")
	mf := readModFile(t, dir)
	if mf.Go != oldestGo {
		t.Errorf("after go mod tidy the consumer's go line is %q; want %q (a dependency raised it)", mf.Go, oldestGo)
	}
	var reqs []string
	for _, r := range mf.Require {
		reqs = append(reqs, r.Path)
	}
	if !slices.Equal(reqs, []string{rootImportPath}) {
		t.Errorf("after go mod tidy the consumer requires %v; want only %s", reqs, rootImportPath)
	}
	run(t, dir, env, "build", "-o", os.DevNull, ".")
	// vet checks each package against its own module's go line: the
	// consumer's main package, and the root package at oldestGo.
	run(t, dir, env, "vet", ".", rootImportPath)
	if got := run(t, dir, env, "run", "."); got != "1 2 <nil>\n" {
		t.Errorf("the consumer printed %q; want %q", got, "1 2 <nil>\n")
	}
}

// consumerEnv is the environment of a consumer module's go commands: no
// workspace, no toolchain switch, and go.mod updated as needed.
var consumerEnv = []string{"GOWORK=off", "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod"}

// consumerModule writes a module on the oldest supported Go whose main
// package is mainGo and which requires this working copy of safemap, and
// returns its directory.
func consumerModule(t *testing.T, mainGo string) string {
	t.Helper()
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gomod := "module example.com/consumer\n\ngo " + oldestGo + "\n\n" +
		"require " + rootImportPath + " v0.1.0\n\n" +
		// The module is not published yet: point the requirement at this
		// working copy, as the proxy will once it is tagged.
		"replace " + rootImportPath + " => " + root + "\n"
	for name, text := range map[string]string{"go.mod": gomod, "main.go": mainGo} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestSnapshotMapWithFallback_OfTheWrongTypeDoesNotCompile checks that a
// fallback whose key or value type does not fit the map is a compile
// error, not a panic at run time.
func TestSnapshotMapWithFallback_OfTheWrongTypeDoesNotCompile(t *testing.T) {
	dir := consumerModule(t, `package main

import "github.com/safemap-go/safemap"

func main() {
	var m *safemap.SnapshotMap[int, int] = safemap.NewSnapshotMapWithFallback(func(key string) (int, bool) { return len(key), true })
	_ = m
}
`)
	run(t, dir, consumerEnv, "mod", "tidy")
	cmd := exec.Command(goCommand(t), "build", "-o", os.DevNull, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), consumerEnv...)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatal("a SnapshotMap[int, int] built with a func(string) (int, bool) fallback compiled; want a type error")
	}
	if !strings.Contains(string(out), "cannot use") {
		t.Errorf("build failed with %q; want a type error (cannot use ...)", out)
	}
}

// TestWorkspace_UsesEveryModule checks that go.work, which the README's
// commands rely on, lists every module of the repository, so that the test
// command, whose package pattern spans the workspace, tests them all. It
// skips outside a checkout (a module download carries no go.work).
func TestWorkspace_UsesEveryModule(t *testing.T) {
	if _, err := os.Stat("go.work"); err != nil {
		t.Skip("no go.work: not a checkout of the repository")
	}
	out := run(t, ".", nil, "list", "-m", "-f", "{{.Dir}}")
	var used []string
	for _, dir := range strings.Fields(out) {
		used = append(used, filepath.Clean(dir))
	}
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.Name() == "go.mod" {
			found = append(found, filepath.Dir(path))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range found {
		if !slices.Contains(used, dir) {
			t.Errorf("module in %s is not in go.work's use list, so the README's test command skips it", dir)
		}
	}
	for _, dir := range used {
		if !slices.Contains(found, dir) {
			t.Errorf("go.work uses %s, which holds no go.mod", dir)
		}
	}
}
