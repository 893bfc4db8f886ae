package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// releaseVersion is the version the repository's modules will be tagged
// with first: the nested modules already require each other at it.
const releaseVersion = "v0.1.0"

const repoModule = "github.com/safemap-go/safemap"

// TestInstall_FromATaggedReleaseWorks does what the README tells a user
// to do, go install github.com/safemap-go/safemap/cmd/mapbench@version, as
// it will work once the repository is tagged. It builds the module zips
// that the proxy would serve for the tag, from this working copy, into a
// file-based module proxy, and installs from it with no workspace and a
// fresh module cache. That fails if the tool's module carries a replace
// directive, requires a module of this repository at a version that is
// not the release, or misses a go.sum entry. It also checks that the
// library's own download holds no tools, peer benchmarks or results.
func TestInstall_FromATaggedReleaseWorks(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the tool from module zips; skipped with -short")
	}
	gocmd, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("go command not found: %v", err)
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	tool := readMod(t, filepath.Join(root, "cmd", "mapbench", "go.mod"))
	if len(tool.Replace) > 0 {
		t.Fatalf("cmd/mapbench/go.mod has replace directives; go install path@version refuses a module with them")
	}

	// The modules of this repository that the tool needs: itself and what
	// it requires, each at the release version.
	proxy := t.TempDir()
	mods := []string{tool.Module.Mod.Path}
	for _, r := range tool.Require {
		if r.Mod.Path == repoModule || strings.HasPrefix(r.Mod.Path, repoModule+"/") {
			if r.Mod.Version != releaseVersion {
				t.Errorf("cmd/mapbench requires %s %s; want %s, the version it is released with", r.Mod.Path, r.Mod.Version, releaseVersion)
			}
			mods = append(mods, r.Mod.Path)
		}
	}
	for _, path := range mods {
		dir := filepath.Join(root, strings.TrimPrefix(strings.TrimPrefix(path, repoModule), "/"))
		zipFile := publish(t, proxy, path, dir)
		if path == repoModule {
			checkLibraryZip(t, zipFile)
		}
	}

	// Install with no workspace, from the file proxy first, then from the
	// modules this machine has already downloaded, then from the real
	// proxy; into a fresh module cache, so that nothing stale is reused.
	goEnv := func(name string) string {
		out, err := exec.Command(gocmd, "env", name).Output()
		if err != nil {
			t.Fatalf("go env %s: %v", name, err)
		}
		return strings.TrimSpace(string(out))
	}
	downloaded := filepath.Join(goEnv("GOMODCACHE"), "cache", "download")
	bin := t.TempDir()
	cmd := exec.Command(gocmd, "install", tool.Module.Mod.Path+"@"+releaseVersion)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(),
		"GOWORK=off",
		"GOTOOLCHAIN=local",
		"GOBIN="+bin,
		"GOMODCACHE="+t.TempDir(),
		"GOFLAGS=-modcacherw",
		"GOPROXY=file://"+filepath.ToSlash(proxy)+",file://"+filepath.ToSlash(downloaded)+","+goEnv("GOPROXY"),
		"GONOSUMDB="+repoModule, // not published: nothing to check against
	)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go install %s@%s: %v\n%s", tool.Module.Mod.Path, releaseVersion, err, out)
	}
	out, err := exec.Command(filepath.Join(bin, "mapbench"), "list").CombinedOutput()
	if err != nil {
		t.Fatalf("the installed mapbench list: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "WORKLOAD") {
		t.Errorf("the installed mapbench list printed %q; want its table of workloads", out)
	}
}

func readMod(t *testing.T, path string) *modfile.File {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.Parse(path, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// publish writes the files a module proxy serves for path at the release
// version, from the module in dir, and returns the zip's path.
func publish(t *testing.T, proxy, path, dir string) string {
	t.Helper()
	escaped, err := module.EscapePath(path)
	if err != nil {
		t.Fatal(err)
	}
	vdir := filepath.Join(proxy, filepath.FromSlash(escaped), "@v")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	info, err := json.Marshal(struct{ Version, Time string }{releaseVersion, time.Now().UTC().Format(time.RFC3339)})
	if err != nil {
		t.Fatal(err)
	}
	var zipped bytes.Buffer
	if err := modzip.CreateFromDir(&zipped, module.Version{Path: path, Version: releaseVersion}, dir); err != nil {
		t.Fatalf("zip of %s: %v", path, err)
	}
	zipFile := filepath.Join(vdir, releaseVersion+".zip")
	for name, data := range map[string][]byte{
		"list":                   []byte(releaseVersion + "\n"),
		releaseVersion + ".info": info,
		releaseVersion + ".mod":  gomod,
		releaseVersion + ".zip":  zipped.Bytes(),
	} {
		if err := os.WriteFile(filepath.Join(vdir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return zipFile
}

// checkLibraryZip checks that what a user of the library downloads is the
// library: no file of a nested module (the tools, the peer benchmarks and
// their results, the examples) and nothing large.
func checkLibraryZip(t *testing.T, zipFile string) {
	t.Helper()
	zr, err := zip.OpenReader(zipFile)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	prefix := repoModule + "@" + releaseVersion + "/"
	for _, f := range zr.File {
		name := strings.TrimPrefix(f.Name, prefix)
		for _, nested := range []string{"bench/", "cmd/", "examples/", "redismap/"} {
			if strings.HasPrefix(name, nested) {
				t.Errorf("the library's module zip holds %s, a file of a nested module", name)
			}
		}
	}
	st, err := os.Stat(zipFile)
	if err != nil {
		t.Fatal(err)
	}
	const limit = 1 << 20
	if st.Size() > limit {
		t.Errorf("the library's module zip is %d bytes; want at most %d (benchmark results belong in the bench module)", st.Size(), limit)
	}
	t.Logf("the library's module zip: %d files, %d bytes", len(zr.File), st.Size())
}
