package safemap_test

import (
	"os/exec"
	"strings"
	"testing"
)

// rootImportPath is the import path of the root package.
const rootImportPath = "github.com/safemap-go/safemap"

// TestRootPackage_ImportsOnlyTheStandardLibrary fails if the root package,
// through any of its non-test files or their imports, transitively, depends
// on a package outside the standard library. Packages of this module itself
// (such as an internal/ package) are allowed; their own imports are checked
// all the same, since go list -deps walks them too.
func TestRootPackage_ImportsOnlyTheStandardLibrary(t *testing.T) {
	gocmd, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("go command not found: %v", err)
	}
	cmd := exec.Command(gocmd, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".")
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("%v: %v\n%s", cmd, err, stderr)
	}
	sawRoot := false
	var foreign []string
	for _, path := range strings.Fields(string(out)) {
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
