"""Every statistic nnbench reports, in one home (docs/statistics.md explains each):

- bench.stats.seeds: over one setting's seeds (rows of a 2-D array, NaN-padded): mean, spread and the
  interval of the mean that the summary, figures, page and `compare` show;
- bench.stats.pairs: between two runs, per matched setting and metric: Welch's test, Benjamini-Hochberg,
  the equivalence test and the verdict `compare` prints;
- bench.stats.problems: across the problems of a benchmark: normalised scores, the IQM and its
  stratified bootstrap, P(X > Y), performance profiles and the expected best of k trials.

Each function takes plain arrays in an agreed shape; scipy is imported where a statistic needs it.
"""

from bench.stats.seeds import LEVEL, describe, mean_interval

__all__ = ["LEVEL", "describe", "mean_interval"]
