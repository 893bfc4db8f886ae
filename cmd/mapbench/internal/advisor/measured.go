package advisor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/format"
	"github.com/safemap-go/safemap/cmd/mapbench/internal/results"
	"github.com/safemap-go/safemap/cmd/mapbench/internal/stats"
)

// MeasureFunc runs w as a synthetic workload against every strategy and
// returns the measurement: one Case per strategy, with Impl the
// constructor's name without the package ("New", "NewSyncMap", …; see
// [Strategies]) and Primary the figure to rank by ("ns/op"), with enough
// samples per case for a confidence interval (6 or more). It should stop
// early and return ctx.Err() when ctx ends.
type MeasureFunc func(ctx context.Context, w Workload) (results.Workload, error)

// MeasuredPrecision is the smallest difference of medians by which a
// measurement overrides the rules: a strategy measured faster by less than
// 5 % (however significant) ties with the others, and the rules decide. A
// judgement: below it, the run-to-run drift of a shared machine and the
// difference between the synthetic workload and the real one outweigh the
// gain.
const MeasuredPrecision = 0.05

// ranked is one measured strategy with its samples of the headline figure.
type ranked struct {
	strategy string
	c        *results.Case
	values   []float64
	st       stats.Summary
}

// Basis values: what decided a recommendation.
const (
	BasisRules       = "rules"       // Decide: no measurement
	BasisMeasurement = "measurement" // the measured winner, significantly better than the rest
	BasisTie         = "tie"         // measured, but the best candidates tie: the rules decided among them
)

// DecideMeasured runs measure on w and recommends from the measurement
// (see [FromMeasurement]). It returns an error if w is invalid, measure is
// nil or fails (the error wraps measure's), or the measurement cannot be
// recommended from.
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
	return FromMeasurement(w, m)
}

// FromMeasurement recommends a strategy for w from m, a measurement of w
// with one case per strategy (see [MeasureFunc]).
//
// The candidates are the strategies that ran, broke no guarantee and, when
// w needs a point-in-time snapshot, give one; cases of other
// implementations (peers a MeasureFunc may add) are shown for comparison
// only. The candidate with the best median wins on the measurement alone
// only if it is significantly better than every other candidate: the
// Mann-Whitney U test at p < 0.05, by at least [MeasuredPrecision]. Otherwise
// the candidates not significantly worse than it tie, the advice says so
// with their medians and 95 % confidence intervals, and the rules ([Decide])
// choose among them: their recommendation if it ties, else their runner-up,
// else the tied candidate they prefer on a tie ([Strategies] order).
// Basis says which happened.
//
// The warnings of [Decide] still apply and are kept, as are its notes on
// iteration, the value function and the key set. WouldChange names only
// what is certain without another measurement. It returns an error if w is
// invalid, or the measurement holds no usable case or more than one case
// for a strategy.
func FromMeasurement(w Workload, m results.Workload) (Advice, error) {
	if err := w.Validate(); err != nil {
		return Advice{}, err
	}
	rules := decideLocal(w) // the one-process rules: the measurement is of in-process maps
	f := factsOf(w)
	if f.needsCache() && row(rules.Recommended).evicts {
		// The measurement is of the maps, which keep every key and never
		// expire a value: none of them does what the workload needs.
		a := rules
		a.Measured = &m
		a.Reasons = append(a.Reasons, fmt.Sprintf("The measurement (%s) compares safemap's maps, none of which bounds its size or expires values, which your workload needs: the rules decide, and its figures are shown for comparison only", workloadName(m)))
		return acrossProcesses(a, f), nil
	}
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
		switch xs, ok := c.Values(unit); {
		case c.Unsupported != "":
			warns = append(warns, fmt.Sprintf("%s could not run the measured workload: %s", s, c.Unsupported))
		case len(c.Violations) > 0:
			warns = append(warns, fmt.Sprintf("%s broke a guarantee while measured, so it is not recommended: %s", s, strings.Join(c.Violations, "; ")))
		case !ok:
			warns = append(warns, fmt.Sprintf("%s has no %s figure in the measurement", s, unit))
		default:
			usable = append(usable, ranked{s, c, xs, stats.Summarize(xs)})
		}
	}
	judge := stats.Judge{HigherIsBetter: m.HigherIsBetter, Precision: MeasuredPrecision}
	slices.SortStableFunc(usable, func(a, b ranked) int {
		if c := cmp.Compare(a.st.Median, b.st.Median); c != 0 {
			if m.HigherIsBetter {
				return -c
			}
			return c
		}
		return cmp.Compare(rankOf(a.strategy), rankOf(b.strategy))
	})
	// A strategy that lacks what the workload needs is left out, however
	// fast: only NewRWMap and NewSnapshotMap iterate a point-in-time view.
	var cands []ranked
	var excluded []string
	for _, r := range usable {
		if !isStrategy(r.strategy) {
			if len(cands) == 0 {
				excluded = append(excluded, fmt.Sprintf("%s measured %s %s; it is shown for comparison, but only safemap's strategies are recommended", r.strategy, format.Number(r.st.Median), unit))
			}
			continue
		}
		if w.NeedSnapshot && !givesSnapshots(r.strategy) {
			excluded = append(excluded, fmt.Sprintf("%s measured %s %s but is left out: its Range is not a point-in-time snapshot, which you need", r.strategy, format.Number(r.st.Median), unit))
			continue
		}
		cands = append(cands, r)
	}
	if len(cands) == 0 {
		return Advice{}, fmt.Errorf("advisor: the measurement %q has no usable case to recommend from", m.Name)
	}

	best := cands[0]
	var tied, behind []ranked
	for _, r := range cands {
		if r.strategy == best.strategy || !judge.Better(best.values, r.values) {
			tied = append(tied, r)
		} else {
			behind = append(behind, r)
		}
	}
	a := Advice{Workload: w, Measured: &m}
	where := "Measured on this machine (" + workloadName(m) + betterNote(m.HigherIsBetter) + ")"
	if len(tied) == 1 {
		a.Basis, a.Recommended = BasisMeasurement, best.strategy
		a.Reasons = append(a.Reasons, fmt.Sprintf("%s: %s is best at %s, significantly ahead of every other candidate (Mann-Whitney U, p < %g, by at least %s)",
			where, best.strategy, figureText(best.st, unit), stats.Alpha, format.Percent(MeasuredPrecision)))
		if len(cands) > 1 {
			second := cands[1]
			a.RunnerUp = second.strategy
			a.RunnerUpWhy = []string{fmt.Sprintf("Measured second: %s, %s the best (p = %s)", figureText(second.st, unit),
				format.Ratio(ratio(best.st.Median, second.st.Median, m.HigherIsBetter)), format.Number(stats.PValue(best.values, second.values)))}
		} else {
			a.RunnerUp, a.RunnerUpWhy = rules.RunnerUp, []string{"The only other candidate by the rules; it was not measured: " + strings.Join(rules.RunnerUpWhy, "; ")}
		}
		if rules.Recommended == best.strategy {
			a.Reasons = append(a.Reasons, "The rules, without measuring, recommend it too: "+rules.Reasons[0])
		} else {
			a.Reasons = append(a.Reasons, fmt.Sprintf("The rules alone would recommend %s; the measurement overrides them because its winner is significantly faster on your workload on this machine", rules.Recommended))
		}
	} else {
		a.Basis = BasisTie
		a.Recommended = tieBreak(tied, rules)
		var names, figs []string
		for _, r := range tied {
			names = append(names, r.strategy)
			figs = append(figs, r.strategy+" "+figureText(r.st, unit))
		}
		a.Reasons = append(a.Reasons, fmt.Sprintf("Tie: %s cannot tell %s apart on this workload — no difference between them is both significant (Mann-Whitney U, p < %g) and at least %s: %s",
			where, joinAnd(names), stats.Alpha, format.Percent(MeasuredPrecision), strings.Join(figs, "; ")))
		a.Reasons = append(a.Reasons, fmt.Sprintf("So the rules decide: the rules choose %s (%s)", a.Recommended, tieBreakWhy(a.Recommended, rules)))
		if a.Recommended == rules.Recommended {
			a.Reasons = append(a.Reasons, rules.Reasons[0])
		}
		for _, r := range tied {
			if r.strategy != a.Recommended {
				a.RunnerUp = r.strategy
				a.RunnerUpWhy = []string{"Tied with the recommendation on this workload: " + figureText(r.st, unit)}
				break
			}
		}
		if len(behind) > 0 {
			var bs []string
			for _, r := range behind {
				bs = append(bs, fmt.Sprintf("%s %s (%s)", r.strategy, format.Ratio(ratio(best.st.Median, r.st.Median, m.HigherIsBetter)), figureText(r.st, unit)))
			}
			a.Reasons = append(a.Reasons, "Significantly behind the tied strategies: "+strings.Join(bs, "; "))
		}
	}
	a.Reasons = append(a.Reasons, excluded...)
	a.Reasons = append(a.Reasons, strategyNotes(a.Recommended, w)...)
	a.Reasons = append(a.Reasons, loaderNotes(w, a.Recommended)...)
	fastest := a.Recommended
	for _, r := range usable {
		if isStrategy(r.strategy) {
			fastest = r.strategy
			break
		}
	}
	a.WouldChange = measuredWouldChange(f, a.Recommended, fastest)
	a.Warnings = append(slices.Clone(rules.Warnings), warns...)
	a.Warnings = append(a.Warnings, m.Notes...)
	return acrossProcesses(a, factsOf(w)), nil
}

// tieBreak picks among tied candidates as the rules would: their
// recommendation, else their runner-up, else the first tied one in
// Strategies order.
func tieBreak(tied []ranked, rules Advice) string {
	has := func(s string) bool { return slices.ContainsFunc(tied, func(r ranked) bool { return r.strategy == s }) }
	switch {
	case has(rules.Recommended):
		return rules.Recommended
	case has(rules.RunnerUp):
		return rules.RunnerUp
	}
	pick := tied[0].strategy
	for _, r := range tied {
		if rankOf(r.strategy) < rankOf(pick) {
			pick = r.strategy
		}
	}
	return pick
}

func tieBreakWhy(pick string, rules Advice) string {
	switch pick {
	case rules.Recommended:
		return "their recommendation for this workload"
	case rules.RunnerUp:
		return fmt.Sprintf("their runner-up: their first choice, %s, measured significantly behind", rules.Recommended)
	}
	return fmt.Sprintf("the tied strategy they prefer: their own choices, %s and %s, measured significantly behind", rules.Recommended, rules.RunnerUp)
}

// figureText is a median with its interval and sample count: "41.2 ns/op
// (95 % interval 40.1–43.0, n=12)".
func figureText(st stats.Summary, unit string) string {
	ci := "no interval: fewer than 6 samples"
	if lohi, ok := interval(st); ok {
		ci = "95 % interval " + lohi
	}
	return fmt.Sprintf("%s %s (%s, n=%d)", format.Number(st.Median), unit, ci, st.N)
}

// interval is a median's 95 % confidence interval, "40.1–43.0"; ok is
// false when there are too few samples for one.
func interval(st stats.Summary) (text string, ok bool) {
	if math.IsInf(st.Lo, 0) || math.IsInf(st.Hi, 0) {
		return "", false
	}
	return format.Number(st.Lo) + "–" + format.Number(st.Hi), true
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

// measuredWouldChange is what would change a measured recommendation. The
// rules cannot predict another measurement, so it names only what is
// certain: the snapshot requirement, which filters the candidates, and
// that another workload needs another measurement. fastest is the best
// measured strategy before the snapshot filter.
func measuredWouldChange(f facts, best, fastest string) []string {
	var out []string
	switch {
	case !f.snap && !givesSnapshots(best):
		snaps := inProcess(func(s strategy) bool { return s.snapshot })
		out = append(out, fmt.Sprintf("if you needed a point-in-time snapshot of all entries → %s, the only strategies whose Range is one (pick the fastest in the table)", joinOr(snaps)))
	case f.snap && fastest != best:
		out = append(out, fmt.Sprintf("if you no longer needed a point-in-time snapshot → %s, the fastest measured", fastest))
	}
	out = append(out, "if the workload changed (its mix, miss rate, key count or concurrency) → measure again: this ranking holds for the workload measured")
	return append(out, staticWouldChange(best, f, false)...)
}
