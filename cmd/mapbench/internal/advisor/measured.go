package advisor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/results"
)

// MeasureFunc runs w as a synthetic workload against every strategy and
// returns the measurement: one Case per strategy, with Impl the
// constructor's name without the package ("New", "NewSyncMap", …; see
// [Strategies]) and Primary the figure to rank by ("ns/op"). It should
// stop early and return ctx.Err() when ctx ends.
type MeasureFunc func(ctx context.Context, w Workload) (results.Workload, error)

// ranked is one measured strategy with its headline figure.
type ranked struct {
	strategy string
	c        *results.Case
	st       results.Stat
}

// DecideMeasured runs measure on w and recommends the strategy whose median
// Primary figure is best (lowest, or highest when HigherIsBetter), with the
// second best as runner-up and the numbers in the reasons. Ties go to the
// earlier strategy in [Strategies]. Left out, with a warning or a reason
// saying so, are strategies that could not run, broke a guarantee while
// measured, or lack a point-in-time snapshot when w needs one, and cases
// of other implementations (peers a MeasureFunc may add for comparison).
//
// The warnings of [Decide] still apply and are kept, as are its notes on
// iteration and the value function. The reasons say whether the rules
// agree, and flag a winner whose min–max spread overlaps the runner-up's.
// WouldChange names only what is certain without another measurement.
//
// It returns an error if w is invalid, measure is nil or fails (the error
// wraps measure's), or the measurement holds no usable case or more than
// one case for a strategy.
func DecideMeasured(ctx context.Context, w Workload, measure MeasureFunc) (Advice, error) {
	if err := w.Validate(); err != nil {
		return Advice{}, err
	}
	if measure == nil {
		return Advice{}, errors.New("advisor: no MeasureFunc to measure with")
	}
	m, err := measure(ctx, w)
	if err != nil {
		return Advice{}, fmt.Errorf("measuring the workload: %w", err)
	}
	rules := decideLocal(w) // the one-process rules: the measurement is of in-process maps
	f := factsOf(w)
	unit := m.Primary
	if unit == "" {
		unit = "ns/op"
	}

	var usable []ranked
	var warns []string
	seen := map[string]bool{}
	for i := range m.Cases {
		c := &m.Cases[i]
		s := strategyName(c.Impl)
		if seen[s] {
			return Advice{}, fmt.Errorf("advisor: the measurement has more than one case for %s; want one per strategy", s)
		}
		seen[s] = true
		switch st, ok := c.Figure(unit); {
		case c.Unsupported != "":
			warns = append(warns, fmt.Sprintf("%s could not run the measured workload: %s", s, c.Unsupported))
		case len(c.Violations) > 0:
			warns = append(warns, fmt.Sprintf("%s broke a guarantee while measured, so it is not recommended: %s", s, strings.Join(c.Violations, "; ")))
		case !ok:
			warns = append(warns, fmt.Sprintf("%s has no %s figure in the measurement", s, unit))
		default:
			usable = append(usable, ranked{s, c, st})
		}
	}
	order := Strategies()
	slices.SortStableFunc(usable, func(a, b ranked) int {
		if c := cmp.Compare(a.st.Median, b.st.Median); c != 0 {
			if m.HigherIsBetter {
				return -c
			}
			return c
		}
		return cmp.Compare(rankOf(order, a.strategy), rankOf(order, b.strategy))
	})
	// A strategy that lacks what the workload needs is left out, however
	// fast: only NewRWMap and NewSnapshotMap iterate a point-in-time view.
	var cands []ranked
	var excluded []string
	for _, r := range usable {
		if !isStrategy(r.strategy) {
			if len(cands) == 0 {
				excluded = append(excluded, fmt.Sprintf("%s measured %s %s; it is shown for comparison, but only safemap's strategies are recommended", r.strategy, num(r.st.Median), unit))
			}
			continue
		}
		if w.NeedSnapshot && !givesSnapshots(r.strategy) {
			excluded = append(excluded, fmt.Sprintf("%s measured %s %s but is left out: its Range is not a point-in-time snapshot, which you need", r.strategy, num(r.st.Median), unit))
			continue
		}
		cands = append(cands, r)
	}
	if len(cands) == 0 {
		return Advice{}, fmt.Errorf("advisor: the measurement %q has no usable case to recommend from", m.Name)
	}

	best := cands[0]
	a := Advice{Workload: w, Measured: &m, Recommended: best.strategy}
	a.Reasons = append(a.Reasons, fmt.Sprintf("Measured on this machine (%s): %s is best at %s %s, the median of %d runs (min–max %s–%s)%s",
		workloadName(m), best.strategy, num(best.st.Median), unit, best.st.N, num(best.st.Min), num(best.st.Max), betterNote(m.HigherIsBetter)))
	if len(cands) > 1 {
		second := cands[1]
		a.RunnerUp = second.strategy
		a.RunnerUpWhy = []string{fmt.Sprintf("Measured second: %s %s (min–max %s–%s), %s× the best", num(second.st.Median), unit, num(second.st.Min), num(second.st.Max), num(ratio(best.st.Median, second.st.Median, m.HigherIsBetter)))}
		if overlap(best.st, second.st) {
			a.Reasons = append(a.Reasons, fmt.Sprintf("%s and %s overlap in their min–max spread, so the order of the two may be noise: rerun with more repetitions, or let the rules decide (they pick %s)", best.strategy, second.strategy, rules.Recommended))
		}
	} else {
		a.RunnerUp, a.RunnerUpWhy = rules.RunnerUp, []string{"The only other candidate by the rules; it was not measured: " + strings.Join(rules.RunnerUpWhy, "; ")}
	}
	a.Reasons = append(a.Reasons, excluded...)
	if rules.Recommended == best.strategy {
		a.Reasons = append(a.Reasons, "The rules, without measuring, recommend it too: "+rules.Reasons[0])
	} else {
		a.Reasons = append(a.Reasons, fmt.Sprintf("The rules alone would recommend %s; the measurement of your workload on this machine takes precedence", rules.Recommended))
	}
	a.Reasons = append(a.Reasons, strategyNotes(best.strategy, w)...)
	a.Reasons = append(a.Reasons, loaderNotes(w)...)
	fastest := best.strategy
	for _, r := range usable {
		if isStrategy(r.strategy) {
			fastest = r.strategy
			break
		}
	}
	a.WouldChange = measuredWouldChange(f, best.strategy, fastest)
	a.Warnings = append(slices.Clone(rules.Warnings), warns...)
	a.Warnings = append(a.Warnings, m.Notes...)
	return acrossProcesses(a, factsOf(w)), nil
}

// strategyName maps a Case.Impl such as "New" to its constructor,
// "safemap.New"; other names are kept as they are.
func strategyName(impl string) string {
	if slices.Contains(Strategies(), impl) {
		return "safemap." + impl
	}
	return impl
}

func rankOf(order []string, strategy string) int {
	if i := slices.Index(order, strings.TrimPrefix(strategy, "safemap.")); i >= 0 {
		return i
	}
	return len(order)
}

func workloadName(m results.Workload) string {
	if m.Name == "" {
		return "synthetic workload"
	}
	return m.Name
}

func betterNote(higher bool) string {
	if higher {
		return ", higher is better"
	}
	return ""
}

// ratio is how many times worse v is than best: ≥ 1, whichever direction
// is better. It is 0 when it cannot be computed.
func ratio(best, v float64, higherIsBetter bool) float64 {
	if higherIsBetter {
		best, v = v, best
	}
	if best <= 0 {
		return 0
	}
	return v / best
}

// overlap reports whether two figures' min–max ranges overlap.
func overlap(a, b results.Stat) bool {
	return a.Min <= b.Max && b.Min <= a.Max
}

func isStrategy(name string) bool {
	return slices.Contains(Strategies(), strings.TrimPrefix(name, "safemap."))
}

func givesSnapshots(strategy string) bool {
	return strategy == stratRW || strategy == stratSnapshot
}

// measuredWouldChange is what would change a measured recommendation. The
// rules cannot predict another measurement, so it names only what is
// certain: the snapshot requirement, which filters the candidates, and
// that another workload needs another measurement. fastest is the best
// measured strategy before the snapshot filter.
func measuredWouldChange(f facts, best, fastest string) []string {
	var out []string
	switch {
	case !f.snap && !givesSnapshots(best):
		out = append(out, fmt.Sprintf("if you needed a point-in-time snapshot of all entries → %s or %s, the only strategies whose Range is one (pick the faster of the two in the table)", stratRW, stratSnapshot))
	case f.snap && fastest != best:
		out = append(out, fmt.Sprintf("if you no longer needed a point-in-time snapshot → %s, the fastest measured", fastest))
	}
	out = append(out, "if the workload changed (its mix, miss rate, key count or concurrency) → measure again: this ranking holds for the workload measured")
	return append(out, staticWouldChange(best, f, false)...)
}
