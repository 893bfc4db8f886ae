package advisor

import (
	"fmt"
	"slices"
	"strings"
)

// acrossProcesses turns advice for one process into advice for f.procs
// processes that share the data: the strategy of the table that shares
// data and loads across processes (safemap's Redis tier), with its
// guarantee and costs, and the in-process choice as the runner-up (a map
// per process in front of the user's own store).
func acrossProcesses(a Advice, f facts) Advice {
	if f.procs <= 1 {
		return a
	}
	tier := sharedTier()
	local, localWhy := a.Recommended, a.Reasons
	a.Recommended = tier.name
	a.Reasons = []string{
		fmt.Sprintf("The map must be shared by %d processes: %s is %s. %s", f.procs, tier.name, tier.is, capital(tier.guarantee)),
		fmt.Sprintf("Costs: %s; %s; %s", tier.misses, tier.reads, tier.writes),
	}
	// Why the in-process choice, which a near cache or a map per process
	// would be, follows.
	if len(localWhy) > 0 {
		a.Reasons = append(a.Reasons, fmt.Sprintf("Inside each process the choice would be %s: %s", local, localWhy[0]))
		a.Reasons = append(a.Reasons, localWhy[1:]...)
	}
	if a.RunnerUp != "" && len(a.RunnerUpWhy) > 0 {
		a.Reasons = append(a.Reasons, fmt.Sprintf("In process, the runner-up would be %s: %s", a.RunnerUp, strings.Join(a.RunnerUpWhy, "; ")))
	}
	a.RunnerUp = local
	a.RunnerUpWhy = []string{fmt.Sprintf("%s in each process, in front of your own store, if the processes need not share loads: each then loads its own copy (one loader call per process per key) and keeping the copies in step is up to you", local)}
	var keep []string
	for _, w := range a.WouldChange {
		if !strings.Contains(w, "several processes") {
			keep = append(keep, w)
		}
	}
	a.WouldChange = append(keep, fmt.Sprintf("if the processes did not need to share the data or its loads → %s in each process", local))
	if !slices.Contains(a.Warnings, tier.limits) { // measured advice carries the rules' warnings
		a.Warnings = append(a.Warnings, tier.limits)
	}
	return a
}
